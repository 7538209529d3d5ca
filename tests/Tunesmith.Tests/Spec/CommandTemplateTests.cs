using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Spec;

public sealed class CommandTemplateTests
{
    private static IReadOnlyList<string> Split(string commandLine) =>
        CommandTemplate.Parse(commandLine).Render(new Dictionary<string, object?>(), 0, "");

    [Theory]
    [InlineData("a b  c", new[] { "a", "b", "c" })]
    [InlineData("a 'b c' d", new[] { "a", "b c", "d" })]
    [InlineData("a \"b c\" d", new[] { "a", "b c", "d" })]
    [InlineData("a\\ b c", new[] { "a b", "c" })]
    [InlineData("'it'\\''s'", new[] { "it's" })]
    [InlineData("\"say \\\"hi\\\"\"", new[] { "say \"hi\"" })]
    [InlineData("\"a\\nb\"", new[] { "a\\nb" })]
    [InlineData("'$HOME' \"$HOME\"", new[] { "$HOME", "$HOME" })]
    [InlineData("x '' y", new[] { "x", "", "y" })]
    [InlineData("pre'mid dle'post", new[] { "premid dlepost" })]
    [InlineData("'|' \\;", new[] { "|", ";" })]
    [InlineData("a \\\n b", new[] { "a", "b" })]
    [InlineData("{{literal}}", new[] { "{literal}" })]
    public void Splits_like_a_posix_shell_without_expanding(string commandLine, string[] expected) =>
        Assert.Equal(expected, Split(commandLine));

    [Theory]
    [InlineData("a 'b", "unterminated single quote", 2)]
    [InlineData("a \"b", "unterminated double quote", 2)]
    [InlineData("a b\\", "escapes nothing", 3)]
    [InlineData("a | b", "shell operator", 2)]
    [InlineData("run {lr", "never closed", 4)]
    [InlineData("run {1x}", "not a placeholder name", 4)]
    [InlineData("run }", "lone '}'", 4)]
    [InlineData("   ", "empty", 0)]
    public void Malformed_command_lines_are_refused_with_the_offset(string commandLine, string fragment, int position)
    {
        var e = Assert.Throws<CommandTemplateException>(() => CommandTemplate.Parse(commandLine));
        Assert.Contains(fragment, e.Message);
        Assert.Equal(position, e.Position);
    }

    [Theory]
    [InlineData("x; touch /tmp/pwned")]
    [InlineData("$(touch /tmp/pwned)")]
    [InlineData("`touch /tmp/pwned`")]
    [InlineData("a b 'c' \"d\" \\e")]
    [InlineData("{lr}")]
    public void A_parameter_value_stays_one_literal_argument(string value)
    {
        var template = CommandTemplate.Parse("python3 train.py --opt {opt} --tag=run-{opt}");
        var argv = template.Render(new Dictionary<string, object?> { ["opt"] = value }, 3, "/t");
        Assert.Equal(["python3", "train.py", "--opt", value, $"--tag=run-{value}"], argv);
    }

    [Fact]
    public void Values_render_as_invariant_text_and_builtins_fill_in()
    {
        var template = CommandTemplate.Parse("run --lr {lr} --n {n} --b {b} --none {z} --dir {trial_dir}/ckpt --i {trial_number}");
        var argv = template.Render(new Dictionary<string, object?> { ["lr"] = 1e-5, ["n"] = 32L, ["b"] = true, ["z"] = null }, 12, "/runs/12");
        Assert.Equal(["run", "--lr", "1e-05", "--n", "32", "--b", "true", "--none", "null", "--dir", "/runs/12/ckpt", "--i", "12"], argv);
    }

    [Fact]
    public void An_inactive_parameter_drops_its_argument_and_the_flag_before_it()
    {
        var template = CommandTemplate.Parse("run --opt {opt} --momentum {momentum} --beta={beta} -v {verbose} pos-{momentum} --last 1");
        var argv = template.Render(new Dictionary<string, object?> { ["opt"] = "adam" }, 0, "/t");
        Assert.Equal(["run", "--opt", "adam", "--last", "1"], argv);
        var all = template.Render(new Dictionary<string, object?> { ["opt"] = "sgd", ["momentum"] = 0.9, ["beta"] = 2L, ["verbose"] = 1L }, 0, "/t");
        Assert.Equal(["run", "--opt", "sgd", "--momentum", "0.9", "--beta=2", "-v", "1", "pos-0.9", "--last", "1"], all);
    }

    [Fact]
    public void A_negative_number_before_an_inactive_argument_is_not_taken_for_a_flag()
    {
        var argv = CommandTemplate.Parse("run -1 {x}").Render(new Dictionary<string, object?>(), 0, "/t");
        Assert.Equal(["run", "-1"], argv);
    }

    [Fact]
    public void Study_file_renders_block_and_derived_placeholders_from_a_configuration()
    {
        var file = StudyFile.Parse("""
            command: train --l0 {layers.0.units} --l1 {layers.1.units} --pad {padding} --k {k}
            space:
              k: { int: [1, 7], step: 2 }
              padding: { expr: k // 2 }
              layers: { repeat: { count: { int: [1, 2] }, block: { units: { int: [8, 64] } } } }
            """, "study.yaml", "/tmp");
        var config = new Configuration(new Dictionary<string, object?> { ["k"] = 5L, ["padding"] = 2L, ["layers"] = 1L, ["layers.0.units"] = 16L });
        Assert.Equal(["train", "--l0", "16", "--pad", "2", "--k", "5"], file.RenderCommand(config, 0, "/t"));
    }
}
