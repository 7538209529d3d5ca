using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests;

/// <summary><see cref="Study.Record"/> is a snapshot taken once the study is open; the attributes as stored now are a read away.</summary>
public sealed class StudyRecordTests
{
    [Fact]
    public async Task The_record_holds_what_opening_the_study_stored()
    {
        await using var study = await Study.CreateAsync("record", new StudyOptions
        {
            Sampler = new RandomSampler(1), Scheduler = new MedianStoppingScheduler(new MedianStoppingOptions()), Metric = "f1",
        });
        Assert.Equal("random", study.Record.SystemAttributes[SystemAttributeKeys.Sampler]);
        Assert.Equal(study.Scheduler!.Name, study.Record.SystemAttributes[SystemAttributeKeys.Scheduler]);
        Assert.Equal("f1", study.Record.SystemAttributes[SystemAttributeKeys.Metric]);
    }

    [Fact]
    public async Task User_attributes_are_read_from_storage_as_they_are_now_while_the_record_stays_a_snapshot()
    {
        var storage = new InMemoryStudyStorage();
        await using var study = await Study.CreateAsync("attrs", new StudyOptions { StorageInstance = storage });
        await using var other = await Study.LoadAsync("attrs", new StudyOptions { StorageInstance = storage });
        await study.SetUserAttributeAsync("dataset", "digits");
        await other.SetUserAttributeAsync("owner", "ana");

        Assert.Equal("digits", other.UserAttributes["dataset"]);
        Assert.Equal("ana", study.UserAttributes["owner"]);
        Assert.Equal("ana", (await study.GetRecordAsync()).UserAttributes["owner"]);
        Assert.False(study.Record.UserAttributes.ContainsKey("owner"));

        await storage.DeleteStudyAsync("attrs");
        await Assert.ThrowsAsync<StudyNotFoundException>(() => study.GetRecordAsync());
    }
}
