using Tunesmith.Backends.Processes;
using System.Diagnostics;
using Tunesmith.Execution.Commands;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class ProcessTreeEndToEndTests : IDisposable
{
    private readonly CommandTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private static ProcessStartInfo Python(string script)
    {
        var psi = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(script);
        return psi;
    }

    [Fact]
    public async Task A_cancelled_terminate_cuts_the_grace_period_short_and_still_kills_the_tree()
    {
        var script = _kit.Script("stubborn.py", """
            import os, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print(os.getpid(), flush=True)
            time.sleep(3600)
            """);
        using var tree = ProcessTree.Start(Python(script));
        var pid = int.Parse((await tree.Process.StandardOutput.ReadLineAsync())!);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        // A ten-minute grace would hold the test for ten minutes; the token ends it at once.
        await tree.TerminateAsync(TimeSpan.FromMinutes(10), cancellationToken: cancelled.Token).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(ProcessTree.IsAlive(pid));
        Assert.Empty(tree.GetLiveProcessIds());
    }

    [Fact]
    public async Task Terminate_stops_a_child_and_a_grandchild_that_ignores_SIGTERM()
    {
        var script = _kit.Script("tree.py", """
            import os, subprocess, sys, time
            grandchild = subprocess.Popen([sys.executable, "-c",
                "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(3600)"],
                stdout=subprocess.PIPE)
            grandchild.stdout.readline()   # it ignores SIGTERM from here on
            print(os.getpid(), grandchild.pid, flush=True)
            time.sleep(3600)
            """);
        using var tree = ProcessTree.Start(Python(script));
        var pids = (await tree.Process.StandardOutput.ReadLineAsync())!.Split(' ').Select(int.Parse).ToArray();
        Assert.Equal(tree.RootId, pids[0]);
        Assert.True(ProcessTree.IsAlive(pids[1]));
        Assert.Contains(pids[1], tree.GetLiveProcessIds());

        await tree.TerminateAsync(TimeSpan.FromMilliseconds(300));

        Assert.False(ProcessTree.IsAlive(pids[0]));
        Assert.False(ProcessTree.IsAlive(pids[1]));
        Assert.Empty(tree.GetLiveProcessIds());
    }

    [Fact]
    public async Task Each_process_of_the_tree_gets_a_signal_once_not_through_its_group_and_again_by_its_pid()
    {
        // Root and child block a real-time signal: unlike SIGTERM, each delivery of it queues, so they can count them.
        var script = _kit.Script("count.py", """
            import os, signal, subprocess, sys
            rt = signal.SIGRTMIN + 1
            signal.pthread_sigmask(signal.SIG_BLOCK, [rt])
            def received():
                n = 0
                while signal.sigtimedwait([rt], 0) is not None:
                    n += 1
                return n
            if sys.argv[1:] == ["child"]:
                print("ready", flush=True)
                sys.stdin.readline()
                print(received(), flush=True)
                sys.exit(0)
            child = subprocess.Popen([sys.executable, sys.argv[0], "child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            child.stdout.readline()
            print(os.getpid(), child.pid, int(rt), flush=True)
            sys.stdin.readline()  # the test has signalled the tree
            mine = received()
            child.stdin.write("go\n")
            child.stdin.flush()
            print(mine, child.stdout.readline().strip(), flush=True)
            child.wait()
            """);
        var start = Python(script);
        start.RedirectStandardInput = true;
        using var tree = ProcessTree.Start(start);
        Assert.True(tree.OwnsSession);
        var line = (await tree.Process.StandardOutput.ReadLineAsync())!.Split(' ').Select(int.Parse).ToArray();
        Assert.Equal([tree.RootId, line[1]], tree.GetLiveProcessIds().Order());

        Assert.True(tree.Signal(line[2])); // as TerminateAsync sends SIGTERM, then SIGKILL
        await tree.Process.StandardInput.WriteLineAsync("go");
        await tree.Process.StandardInput.FlushAsync();

        // Once each: a second SIGTERM would run a program's handler again, inside the first in Python.
        Assert.Equal("1 1", await tree.Process.StandardOutput.ReadLineAsync());
        await tree.TerminateAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(tree.GetLiveProcessIds());
    }

    [Fact]
    public async Task A_grandchild_orphaned_into_its_own_process_group_is_still_stopped()
    {
        var script = _kit.Script("orphan.py", """
            import os, subprocess, sys
            grandchild = subprocess.Popen([sys.executable, "-c",
                "import time\nprint('ready', flush=True)\ntime.sleep(3600)"],
                stdout=subprocess.PIPE, process_group=0)
            grandchild.stdout.readline()
            print(grandchild.pid, flush=True)
            os._exit(0)                    # leave it behind: reparented away from the tree
            """);
        using var tree = ProcessTree.Start(Python(script));
        var orphan = int.Parse((await tree.Process.StandardOutput.ReadLineAsync())!);
        await tree.Process.WaitForExitAsync();
        Assert.True(ProcessTree.IsAlive(orphan));

        await tree.TerminateAsync(TimeSpan.FromSeconds(5));

        Assert.False(ProcessTree.IsAlive(orphan));
    }

    [Fact]
    public async Task Arguments_reach_the_program_verbatim_through_the_session_wrapper()
    {
        var script = _kit.Script("argv.py", "import json, os, sys\nprint(json.dumps([sys.argv[1:], os.getpid(), os.getsid(0)]), flush=True)\n");
        var psi = Python(script);
        psi.ArgumentList.Add("--wait");
        psi.ArgumentList.Add("a b");
        psi.ArgumentList.Add("$(touch x)");
        using var tree = ProcessTree.Start(psi);
        var line = await tree.Process.StandardOutput.ReadLineAsync();
        await tree.Process.WaitForExitAsync();
        using var doc = System.Text.Json.JsonDocument.Parse(line!);
        Assert.Equal(["--wait", "a b", "$(touch x)"], doc.RootElement[0].EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(tree.RootId, doc.RootElement[1].GetInt32());
        if (tree.OwnsSession) Assert.Equal(tree.RootId, doc.RootElement[2].GetInt32());
        Assert.Equal(0, tree.Process.ExitCode);
    }

    [Fact]
    public async Task Kill_stops_the_tree_at_once_even_when_every_process_ignores_SIGTERM()
    {
        var script = _kit.Script("stubborn.py", """
            import os, signal, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            child = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(3600)"], stdout=subprocess.PIPE)
            child.stdout.readline()
            print(os.getpid(), child.pid, flush=True)
            time.sleep(3600)
            """);
        using var tree = ProcessTree.Start(Python(script));
        var pids = (await tree.Process.StandardOutput.ReadLineAsync())!.Split(' ').Select(int.Parse).ToArray();
        tree.Kill();
        await tree.Process.WaitForExitAsync();
        await tree.TerminateAsync(TimeSpan.Zero); // returns at once: nothing is left to stop
        Assert.All(pids, pid => Assert.False(ProcessTree.IsAlive(pid)));
    }
}
