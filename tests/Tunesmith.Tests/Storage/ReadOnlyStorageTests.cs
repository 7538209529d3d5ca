using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Storage;

public sealed class ReadOnlyStorageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-ro-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Read_only_sqlite_reads_what_a_writer_stores_and_refuses_every_write()
    {
        var url = $"sqlite:///{Path.Combine(_dir, "s.db")}";
        await using var writer = StudyStorage.Open(url);
        var study = await writer.CreateStudyAsync("s", Direction.Minimize);
        var t = await writer.StartTrialAsync(study.Id, "w1");
        await using var reader = StudyStorage.OpenReadOnly(url);
        var first = await reader.GetTrialsSinceAsync(study.Id, 0);
        Assert.Single(first.Trials);

        // The writer carries on while the reader is open; the reader sees the change incrementally.
        Assert.Equal(TrialWriteOutcome.Applied, await writer.UpdateTrialAsync(t!.Id, "w1", new TrialUpdate { FinalState = TrialState.Complete, Value = 1.5 }));
        var next = await reader.GetTrialsSinceAsync(study.Id, first.Cursor);
        Assert.Equal(TrialState.Complete, Assert.Single(next.Trials).State);

        await Assert.ThrowsAnyAsync<Exception>(() => reader.CreateStudyAsync("other", Direction.Minimize));
        await Assert.ThrowsAnyAsync<Exception>(() => reader.StartTrialAsync(study.Id, "w2"));
        Assert.Single(await writer.ListStudiesAsync());
    }

    [Fact]
    public void Read_only_sqlite_refuses_a_missing_file_in_one_line_and_creates_nothing()
    {
        var path = Path.Combine(_dir, "missing.db");
        var e = Assert.Throws<ArgumentException>(() => StudyStorage.OpenReadOnly($"sqlite:///{path}"));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Read_only_sqlite_on_a_file_that_is_not_a_tunesmith_database_says_so()
    {
        var path = Path.Combine(_dir, "empty.db");
        await File.WriteAllBytesAsync(path, []);
        await using var reader = SqliteStudyStorage.OpenReadOnly($"sqlite:///{path}");
        var e = await Assert.ThrowsAsync<StudyStorageException>(() => reader.ListStudiesAsync());
        Assert.Contains("no schema", e.Message, StringComparison.Ordinal);
    }
}
