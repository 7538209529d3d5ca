using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Cli;

public sealed class CombinationFileTests
{
    [Fact]
    public void Csv_cells_are_typed_and_blank_cells_leave_the_parameter_out()
    {
        var rows = CombinationFile.ReadCsv(new StringReader("lr,layers,opt,momentum\n0.01,3,sgd,0.9\n1e-3,2,adam,\n"), "c.csv");
        Assert.Equal(2, rows.Count);
        Assert.Equal(0.01, rows[0]["lr"]);
        Assert.Equal(3L, rows[0]["layers"]);
        Assert.Equal("sgd", rows[0]["opt"]);
        Assert.False(rows[1].ContainsKey("momentum"));
    }

    [Fact]
    public void Csv_quoted_cells_keep_commas_quotes_and_newlines()
    {
        var rows = CombinationFile.ReadCsv(new StringReader("name,note\n\"a,b\",\"say \"\"hi\"\"\nthere\"\n"), "c.csv");
        var row = Assert.Single(rows);
        Assert.Equal("a,b", row["name"]);
        Assert.Equal("say \"hi\"\nthere", row["note"]);
    }

    [Fact]
    public void Csv_row_with_wrong_cell_count_names_file_and_line()
    {
        var e = Assert.Throws<CombinationFileException>(() => CombinationFile.ReadCsv(new StringReader("a,b\n1,2\n3\n"), "combos.csv"));
        Assert.StartsWith("combos.csv:3:", e.Message);
    }

    [Fact]
    public void Csv_duplicate_header_is_refused()
    {
        var e = Assert.Throws<CombinationFileException>(() => CombinationFile.ReadCsv(new StringReader("a,a\n1,2\n"), "c.csv"));
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Json_lines_keep_types_and_name_the_bad_line()
    {
        var rows = CombinationFile.ReadJsonLines(new StringReader("{\"lr\": 0.5, \"n\": 2, \"opt\": \"sgd\"}\n\n{\"lr\": 1.0, \"n\": 3}\n"), "c.jsonl");
        Assert.Equal(2, rows.Count);
        Assert.Equal(2L, rows[0]["n"]);
        Assert.Equal(1.0, rows[1]["lr"]);
        var e = Assert.Throws<CombinationFileException>(() => CombinationFile.ReadJsonLines(new StringReader("{\"a\":1}\n{oops\n"), "c.jsonl"));
        Assert.StartsWith("c.jsonl:2:", e.Message);
    }
}
