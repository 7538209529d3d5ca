namespace Tunesmith.Tests.Backends;

/// <summary>Outputs captured from Slurm 22.05.8 (scripts/slurm-local.sh on Debian 12), kept verbatim for the parser tests.</summary>
internal static class SlurmCapturedOutput
{
    // scontrol show job -o 17_1: a finished array task that was requeued once (Restarts=1); Command/WorkDir carry paths.
    public const string ScontrolFinishedTask =
        "JobId=17 ArrayJobId=17 ArrayTaskId=1 JobName=tunesmith-wall1 UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901756 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:02 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-12-06T19:04:11 EligibleTime=2026-12-06T19:04:22 AccrueTime=2026-12-06T19:04:22 StartTime=2026-12-06T19:04:24 EndTime=2026-12-06T19:04:26 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-12-06T19:04:24 Scheduler=Main Partition=debug AllocNode:Sid=localhost:13436 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=1G,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryCPU=1G MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/ts-try/runs/wall1/slurm/submit-20261206-190355-822.sbatch WorkDir=/tmp/ts-try StdErr=/tmp/ts-try/runs/wall1/slurm/17_1.out StdIn=/dev/null StdOut=/tmp/ts-try/runs/wall1/slurm/17_1.out Power= \n";

    // scontrol show job -o 19 (array 0-3%1): the pending remainder first, then the running task (lines cut after RunTime).
    public const string ScontrolArray =
        "JobId=19 ArrayJobId=19 ArrayTaskId=1-3%1 ArrayTaskThrottle=1 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901755 Nice=0 Account=(null) QOS=(null) JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:00\n" +
        "JobId=20 ArrayJobId=19 ArrayTaskId=0 ArrayTaskThrottle=1 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901755 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:01 NodeList=localhost\n";

    // squeue -h -o '%i|%F|%K|%T|%r|%N|%A' for the same array.
    public const string Squeue =
        "19_[1-3%1]|19|1-3%1|PENDING|JobArrayTaskLimit||19\n" +
        "19_0|19|0|RUNNING|None|localhost|20\n";

    // scontrol show config (excerpt).
    public const string Config =
        "Configuration data as of 2026-12-06T19:01:12\n" +
        "AccountingStorageType   = accounting_storage/none\n" +
        "MaxArraySize            = 1001\n" +
        "MaxJobCount             = 20000\n" +
        "SchedulerParameters     = batch_sched_delay=0,sched_interval=3,bf_interval=2\n";

    // sacct -P -n -X -o JobID,JobIDRaw,State,ExitCode,NodeList,Reason, in Slurm's documented parsable layout (the local
    // test cluster runs without slurmdbd, so this one is written from the format, not captured).
    public const string Sacct =
        "40_0|41|COMPLETED|0:0|node17|None\n" +
        "40_1|42|TIMEOUT|0:15|node18|TimeLimit\n" +
        "40_2|43|CANCELLED by 1000|0:15|node18|None\n" +
        "40_[3-7]|40|PENDING|0:0|None assigned|JobArrayTaskLimit\n";

    // /proc/self/mountinfo lines (an NFS home, a Lustre scratch, a local root).
    public const string MountInfo =
        "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n" +
        "40 25 0:45 / /home rw,relatime shared:20 - nfs4 fs1:/export/home rw,vers=4.2\n" +
        "41 25 0:46 / /scratch rw,relatime shared:21 - lustre 10.0.0.1@o2ib:/scratch rw,flock\n" +
        "42 25 0:47 / /home/local\\040disk rw,relatime - xfs /dev/sdb1 rw\n";
}
