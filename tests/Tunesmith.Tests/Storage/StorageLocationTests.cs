using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>One storage URL value, one set of rules, one precedence.</summary>
public sealed class StorageLocationTests
{
    [Fact]
    public void Each_kind_is_parsed_once_with_its_file_or_settings()
    {
        Assert.Equal(StorageKind.Memory, StorageLocation.Parse("memory:").Kind);
        var relative = StorageLocation.Parse("sqlite:///runs/study.db", baseDirectory: "/data/project");
        Assert.Equal(StorageKind.Sqlite, relative.Kind);
        Assert.Equal("/data/project/runs/study.db", relative.SqlitePath);
        Assert.Equal("sqlite:////data/project/runs/study.db", relative.Url);
        var absolute = StorageLocation.Parse("sqlite:////var/db/t.db", baseDirectory: "/elsewhere");
        Assert.Equal("/var/db/t.db", absolute.SqlitePath);
        Assert.Equal("sqlite:////var/db/t.db", absolute.Url);
        Assert.Equal(Path.GetFullPath("t.db"), StorageLocation.Parse("sqlite:///t.db").SqlitePath);
        var pg = StorageLocation.Parse("postgresql://alice:s3cret@db.example:5433/hpo");
        Assert.Equal(StorageKind.Postgres, pg.Kind);
        Assert.Equal("db.example", pg.PostgresSettings!.Host);
        Assert.Equal(5433, pg.PostgresSettings.Port);
        Assert.Equal("hpo", pg.PostgresSettings.Database);
        Assert.DoesNotContain("s3cret", pg.Display);
        Assert.DoesNotContain("s3cret", pg.ToString());
    }

    [Theory]
    [InlineData("sqlite:///study.db?mode=ro", "options after '?' are not supported")]
    [InlineData("sqlite:study.db", "is not a SQLite URL")]
    [InlineData("sqlite:///", "names no file")]
    [InlineData("mysql://u:hunter2@h/db", "is not supported")]
    public void A_bad_url_is_refused_in_one_line_without_its_password(string url, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => StorageLocation.Parse(url));
        Assert.Contains(why, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
    }

    [Fact]
    public void The_sqlite_storage_and_the_study_storage_read_urls_by_the_same_rules()
    {
        Assert.Contains("options after '?'", Assert.Throws<ArgumentException>(() => StudyStorage.Open("sqlite:///x.db?cache=shared")).Message);
        Assert.Equal(StorageLocation.Parse("sqlite:///x.db").SqlitePath, Tunesmith.Storage.Sql.SqliteStudyStorage.PathFromUrl("sqlite:///x.db"));
    }

    [Fact]
    public void Precedence_is_flag_then_study_file_then_environment_then_default()
    {
        string? Env(string name) => name == StorageLocation.EnvironmentVariable ? "sqlite:///env.db" : null;
        Assert.Equal("sqlite:///flag.db", StorageLocation.Resolve(" sqlite:///flag.db ", "sqlite:///file.db", Env));
        Assert.Equal("sqlite:///file.db", StorageLocation.Resolve(null, "sqlite:///file.db", Env));
        Assert.Equal("sqlite:///env.db", StorageLocation.Resolve("  ", null, Env));
        Assert.Equal(StudyStorage.DefaultUrl, StorageLocation.Resolve(null, "", _ => null));
    }
}
