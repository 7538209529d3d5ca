using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Tests;

public sealed class AssignmentsTests
{
    [Fact]
    public void Set_flags_are_typed_like_csv_cells_and_keep_their_order()
    {
        var values = Assignments.Parse(["lr=0.01", "layers=3", "opt=adam", "flag=true", "name=a=b"]);
        Assert.Equal(["lr", "layers", "opt", "flag", "name"], values.Keys);
        Assert.Equal(0.01, values["lr"]);
        Assert.Equal(3L, values["layers"]);
        Assert.Equal(true, values["flag"]);
        Assert.Equal("a=b", values["name"]);
    }

    [Theory]
    [InlineData("noequals")]
    [InlineData("=1")]
    public void A_malformed_set_flag_is_a_usage_error_naming_it(string flag)
    {
        var e = Assert.Throws<CliUsageException>(() => Assignments.Parse([flag]));
        Assert.Contains(flag, e.Message);
    }

    [Fact]
    public void A_parameter_set_twice_is_refused() =>
        Assert.Throws<CliUsageException>(() => Assignments.Parse(["a=1", "a=2"]));

    [Fact]
    public void Formatted_flags_quote_values_a_shell_would_split_and_read_back_to_the_same_values()
    {
        var original = new Dictionary<string, object?> { ["lr"] = 0.5, ["note"] = "it's a; test", ["opt"] = "sgd" };
        var text = Assignments.Format(original);
        Assert.Equal("--set lr=0.5 --set 'note=it'\\''s a; test' --set opt=sgd", text);
        // What a POSIX shell would pass back: unquote the single-quoted words.
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'') { quoted = !quoted; continue; }
            if (c == '\\' && !quoted) { current.Append(text[++i]); continue; }
            if (c == ' ' && !quoted) { if (current.Length > 0) words.Add(current.ToString()); current.Clear(); continue; }
            current.Append(c);
        }
        words.Add(current.ToString());
        var back = Assignments.Parse(words.Where(w => w != "--set"));
        Assert.Equal(original, back);
    }
}
