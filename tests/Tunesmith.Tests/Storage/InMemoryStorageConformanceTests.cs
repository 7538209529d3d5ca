using Tunesmith.Storage;

namespace Tunesmith.Tests.Storage;

/// <summary>The conformance suite on the in-memory storage.</summary>
public sealed class InMemoryStorageConformanceTests : StorageConformanceTests
{
    protected override IStudyStorage CreateStorage(TimeProvider time) => new InMemoryStudyStorage(time);
}
