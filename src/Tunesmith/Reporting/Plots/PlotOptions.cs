namespace Tunesmith.Reporting.Plots;

/// <summary>
/// Limits on what <see cref="StudyPlotsBuilder"/> puts in plots, so that a 100,000-trial study draws quickly and a report
/// file stays small: beyond a limit the best trials, the latest trials and an even spread of the rest are kept.
/// </summary>
public sealed record PlotOptions
{
    /// <summary>Limits for a report file: a 10,000-trial study's HTML report stays well under 5 MB.</summary>
    public static PlotOptions ForReportFile { get; } = new() { MaxPoints = 2_000, MaxCurves = 150, MaxCurvePoints = 100, MaxLines = 500 };

    /// <summary>Most points in the history, slice, EDF and timeline plots. Default 5,000.</summary>
    public int MaxPoints { get; init; } = 5_000;

    /// <summary>Most learning curves. Default 200.</summary>
    public int MaxCurves { get; init; } = 200;

    /// <summary>Most points on one learning curve. Default 200.</summary>
    public int MaxCurvePoints { get; init; } = 200;

    /// <summary>Most lines in the parallel-coordinates plot. Default 1,000.</summary>
    public int MaxLines { get; init; } = 1_000;

    /// <summary>Most Complete trials the importance estimate reads (the latest). Default 20,000.</summary>
    public int MaxImportanceTrials { get; init; } = 20_000;

    /// <summary>How many contour plots (pairs among the most important parameters). Default 3.</summary>
    public int MaxContours { get; init; } = 3;

    /// <summary>Cells per side of a contour grid. Default 30.</summary>
    public int ContourGrid { get; init; } = 30;

    /// <summary>Checks the options; throws <see cref="ArgumentOutOfRangeException"/> naming the property.</summary>
    public void Validate()
    {
        if (MaxPoints < 10) throw new ArgumentOutOfRangeException(nameof(MaxPoints), MaxPoints, "must be at least 10");
        if (MaxCurves < 1) throw new ArgumentOutOfRangeException(nameof(MaxCurves), MaxCurves, "must be at least 1");
        if (MaxCurvePoints < 2) throw new ArgumentOutOfRangeException(nameof(MaxCurvePoints), MaxCurvePoints, "must be at least 2");
        if (MaxLines < 1) throw new ArgumentOutOfRangeException(nameof(MaxLines), MaxLines, "must be at least 1");
        if (MaxImportanceTrials < 10) throw new ArgumentOutOfRangeException(nameof(MaxImportanceTrials), MaxImportanceTrials, "must be at least 10");
        if (MaxContours < 0) throw new ArgumentOutOfRangeException(nameof(MaxContours), MaxContours, "must not be negative");
        if (ContourGrid < 2) throw new ArgumentOutOfRangeException(nameof(ContourGrid), ContourGrid, "must be at least 2");
    }
}
