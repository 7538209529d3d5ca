namespace Tunesmith.Spaces.Spec;

/// <summary>
/// A study file is invalid. The message is one line, <c>file:line:column: field: problem</c>, ready to print as is:
/// every study-file error (unknown key, wrong type, bad bounds, a missing parameter) is this one type, so that a
/// command-line tool can print <see cref="Exception.Message"/> and exit with a usage error.
/// </summary>
public sealed class StudyFileException : Exception
{
    /// <summary>Creates an error at <paramref name="line"/>:<paramref name="column"/> (1-based; 0 when the file could not be read at all).</summary>
    public StudyFileException(string file, int line, int column, string? field, string problem, Exception? inner = null)
        : base(Format(file, line, column, field, problem), inner)
    {
        File = file;
        Line = line;
        Column = column;
        Field = string.IsNullOrEmpty(field) ? null : field;
        Problem = problem;
        Problems = [this];
    }

    // Several problems of one file: located at the first, its message the first's with how many more.
    private StudyFileException(StudyFileException first, IReadOnlyList<StudyFileException> problems)
        : base(Format(first.File, first.Line, first.Column, first.Field, $"{first.Problem} (and {problems.Count - 1} more problems)"))
    {
        File = first.File;
        Line = first.Line;
        Column = first.Column;
        Field = first.Field;
        Problem = first.Problem;
        Problems = problems;
    }

    /// <summary>
    /// One error for <paramref name="problems"/> (at least one) found in one file, in file order: the problem itself when
    /// there is one, else an error located at the first whose <see cref="Problems"/> holds them all.
    /// </summary>
    internal static StudyFileException Of(IReadOnlyList<StudyFileException> problems) =>
        problems.Count == 1 ? problems[0] : new StudyFileException(problems[0], problems);

    /// <summary>
    /// Every problem found in the file, in file order: just this one, or several independent ones (unknown keys of
    /// different sections, a bad value beside them) so that a user fixes them in one go. The location properties and the
    /// message are those of the first, the message ending with how many more there are.
    /// </summary>
    public IReadOnlyList<StudyFileException> Problems { get; }

    /// <summary>The file as the user named it (or the source name given to <c>StudyFile.Parse</c>).</summary>
    public string File { get; }

    /// <summary>1-based line, or 0 when no position applies.</summary>
    public int Line { get; }

    /// <summary>1-based column, or 0 when no position applies.</summary>
    public int Column { get; }

    /// <summary>The dotted path of the field at fault (<c>space.lr</c>, <c>resources.gpus_per_trial</c>), or null for the whole file.</summary>
    public string? Field { get; }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Problem { get; }

    private static string Format(string file, int line, int column, string? field, string problem)
    {
        var where = line > 0 ? $"{file}:{line}:{column}" : file;
        // Keep the message on one line whatever the problem text holds (a YAML error can span lines).
        var text = problem.ReplaceLineEndings(" ");
        return string.IsNullOrEmpty(field) ? $"{where}: {text}" : $"{where}: {field}: {text}";
    }
}

/// <summary>Where something was written in a study file, kept so that a later error (at run time) can still name the line.</summary>
/// <param name="File">The file as the user named it.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Field">The dotted field path.</param>
public sealed record SourceLocation(string File, int Line, int Column, string Field)
{
    /// <summary>An error at this location.</summary>
    public StudyFileException Error(string problem) => new(File, Line, Column, Field, problem);

    /// <inheritdoc />
    public override string ToString() => $"{File}:{Line}:{Column}: {Field}";
}
