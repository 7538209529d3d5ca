namespace Tunesmith.Storage;

/// <summary>
/// A storage could not be used: the database file is not a database, is read-only, stayed locked past every retry, or
/// the server is unreachable. The message is one line naming the storage, fit to show a user as it is.
/// </summary>
public sealed class StudyStorageException(string message, Exception? innerException = null) : Exception(message, innerException);
