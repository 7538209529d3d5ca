using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>The shape of a search space as <see cref="AutoSampler"/> sees it.</summary>
/// <param name="Continuous">Float parameters without a step.</param>
/// <param name="Discrete">Int parameters and stepped floats.</param>
/// <param name="Categorical">Categorical parameters.</param>
/// <param name="Conditional">True when some parameter exists only under a condition (branches, variable-length repeats).</param>
/// <param name="GridSize">How many configurations the space holds when every parameter is finite; null when some is continuous (or the grid is huge).</param>
public sealed record SpaceShape(int Continuous, int Discrete, int Categorical, bool Conditional, long? GridSize)
{
    /// <summary>How many parameters are sampled.</summary>
    public int Dimensions => Continuous + Discrete + Categorical;

    /// <summary>True when a block repeats a variable number of times (a layer count), so whole blocks of parameters come and go.</summary>
    public bool VariableRepeat { get; init; }

    /// <summary>
    /// With a variable repeat: the parameters of every layer count added up (a count of c contributes the parameters outside
    /// the block plus c blocks' worth), what a model per layer count has to learn in all; 0 without one.
    /// </summary>
    public int RepeatBranchDimensions { get; init; }

    /// <summary>Several categorical parameters, at least as many as the numeric ones: their best values may interact.</summary>
    public bool CategoricalHeavy => Categorical >= 3 && Categorical >= Continuous + Discrete;

    /// <summary>Reads the shape of a declarative space (fixed values and derived values are not sampled, so they do not count).</summary>
    public static SpaceShape Of(SearchSpace space)
    {
        ArgumentNullException.ThrowIfNull(space);
        int continuous = 0, discrete = 0, categorical = 0;
        long? grid = 1;
        var conditional = false;
        foreach (var (_, distribution, when) in space.Flatten())
        {
            if (when is not null) conditional = true;
            if (distribution.IsSingle) continue;
            long? count = null;
            switch (distribution)
            {
                case FloatDistribution { Step: null }: continuous++; break;
                case FloatDistribution { Step: { } s } f: discrete++; count = (long)Math.Round((f.High - f.Low) / s) + 1; break;
                case IntDistribution i: discrete++; count = i.Count; break;
                case CategoricalDistribution c: categorical++; count = c.Choices.Count; break;
            }
            grid = grid is { } g && count is { } n && g <= MaxGrid / n ? g * n : null;
        }
        var repeat = HasVariableRepeat(space);
        return new SpaceShape(continuous, discrete, categorical, conditional || repeat, grid)
        {
            VariableRepeat = repeat,
            RepeatBranchDimensions = space.Nodes.OfType<RepeatNode>().FirstOrDefault(r => !r.Count.IsSingle) is { } node
                ? RepeatDimensions(space, node) : 0,
        };
    }

    // Σ over the count values c of (parameters outside the repeat + c · parameters of one block).
    private static int RepeatDimensions(SearchSpace space, RepeatNode node)
    {
        static int Sampled(SearchSpace s) => s.Flatten().Count(p => !p.Distribution.IsSingle);
        var block = Sampled(node.Block);
        var outside = Sampled(space) - 1 - block * (int)node.Count.High;
        var total = 0;
        for (var c = node.Count.Low; c <= node.Count.High; c += node.Count.Step) total += Math.Max(outside, 0) + (int)c * block;
        return total;
    }

    /// <summary>Grids beyond this size are treated as infinite (never enumerated by <c>auto</c>).</summary>
    internal const long MaxGrid = 1_000_000;

    private static bool HasVariableRepeat(SearchSpace space) =>
        space.Nodes.Any(n => n is RepeatNode r && (!r.Count.IsSingle || HasVariableRepeat(r.Block)));
}

/// <summary>What <see cref="AutoSampler"/> chose and why.</summary>
/// <param name="Sampler">The registry name of the chosen sampler (<c>grid</c>, <c>gp</c>, <c>tpe</c>, <c>cmaes</c>, <c>rf</c>).</param>
/// <param name="Reason">One sentence a user can read in logs and reports.</param>
/// <param name="Options">Study-file options the chosen sampler is built with (none: its defaults).</param>
public sealed record AutoChoice(string Sampler, string Reason, IReadOnlyDictionary<string, object?>? Options = null)
{
    /// <summary>Grouped TPE, one model per branch (<see cref="Branches.BranchAwareSampler"/>).</summary>
    internal static IReadOnlyDictionary<string, object?> BranchTpe { get; } =
        new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["branch_aware"] = true }.AsReadOnly();

    /// <summary>
    /// Grouped TPE with Scott bandwidths and Optuna's smaller good group (10 %, at most 25), for several interacting
    /// categorical parameters: the numeric kernels then no longer outweigh the categories; half of TPE's proposals are
    /// category moves, which change one or two categories of the best trial together (a combination not tried yet
    /// first), and a Gaussian process proposes
    /// 15 % of the trials (<c>gp_share</c>, <see cref="Portfolio.ModelShareSampler"/>), so that an optimizer is also
    /// tried at its own learning rate (docs/TPE.md).
    /// </summary>
    internal static IReadOnlyDictionary<string, object?> CategoricalTpe { get; } =
        new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["scott_bandwidth"] = true, ["gamma"] = 0.1, ["max_good"] = 25L, ["category_move_rate"] = 0.5, ["untried_combinations_first"] = true, ["gp_share"] = 0.15 }.AsReadOnly();

    /// <summary>A Gaussian process per branch (<see cref="Branches.BranchAwareSampler"/>).</summary>
    internal static IReadOnlyDictionary<string, object?> BranchGp { get; } =
        new Dictionary<string, object?> { ["branch_aware"] = true }.AsReadOnly();

    /// <summary>A GP that hands the run to grouped TPE when its own fit finds the landscape rugged (<see cref="Portfolio.RuggedFallbackSampler"/>).</summary>
    internal static IReadOnlyDictionary<string, object?> RuggedGp { get; } =
        new Dictionary<string, object?> { ["rugged_fallback"] = true }.AsReadOnly();

    /// <summary>
    /// <see cref="RuggedGp"/> in a space with categorical parameters: every 6th trial a category bandit values each
    /// category by what a GP of its own trials could reach and proposes from the leading one's own model
    /// (<see cref="Gp.GpOptions.CategoryExploreInterval"/>), so that the GP does not lock in on the first good category
    /// (chosen on the quality suite's <c>mixed</c>, dev seeds 0..99 and 300..399, over a minimum share per category;
    /// docs/GP.md).
    /// </summary>
    internal static IReadOnlyDictionary<string, object?> RuggedGpCategories { get; } =
        new Dictionary<string, object?> { ["rugged_fallback"] = true, ["category_explore_interval"] = 6L }.AsReadOnly();
}

/// <summary>
/// The default sampler of a study file: picks grid search, Gaussian-process BO, TPE, CMA-ES or a random forest (for blocks
/// that repeat a variable number of times) from the shape of the space and the trial budget, then delegates every call to it. Its <see cref="Name"/> says what it chose (e.g. <c>auto(gp+tpe_if_rugged)</c>),
/// and the study records that name, so a report shows which algorithm produced the trials.
/// </summary>
public class AutoSampler : ISampler
{
    /// <summary>Above this many parameters a GP's acquisition search gets unreliable, so <c>auto</c> prefers TPE or CMA-ES.</summary>
    public const int MaxGpDimensions = 20;

    /// <summary>Above this many trials a GP's cubic fitting cost outweighs its sample efficiency.</summary>
    public const int MaxGpBudget = 300;

    /// <summary>A grid of at most this many points runs whole when there is no trial budget.</summary>
    public const int MaxUnbudgetedGrid = 100;

    /// <summary>
    /// Trials per parameter from which a GP per layer count replaces the forest on blocks that repeat a variable number of
    /// times: the usual size of a GP's design (ten points per dimension), for every layer count's GP
    /// (<see cref="SpaceShape.RepeatBranchDimensions"/>).
    /// </summary>
    public const int RepeatGpTrialsPerParameter = 10;

    /// <summary>
    /// Trials from which a GP per branch replaces branch-aware TPE on a space with exclusive branches: below it each
    /// branch's GP is still drawing its first trials at random (ten per branch), and TPE, modelling from six, does better
    /// (docs/BENCHMARKS.md, "Small budgets").
    /// </summary>
    public const int MinBranchGpBudget = 40;

    private protected AutoSampler(ISampler inner, AutoChoice choice)
    {
        Inner = inner;
        Choice = choice;
    }

    /// <summary>The sampler doing the work.</summary>
    public ISampler Inner { get; }

    /// <summary>What was chosen and why.</summary>
    public AutoChoice Choice { get; }

    /// <inheritdoc />
    public int? Seed => Inner.Seed;

    /// <inheritdoc />
    public string Name => $"auto({Inner.Name})";

    /// <summary>
    /// The decision, as a pure function of the space's shape, the trial budget (null: unknown, treated as a long run) and the
    /// samplers available. Grid when every parameter is finite and the whole grid fits the budget. Conditional spaces:
    /// a random forest when blocks repeat a variable number of times (a GP per layer count once the budget gives
    /// <see cref="RepeatGpTrialsPerParameter"/> trials per parameter of every layer count), else branch-aware search (one
    /// model per branch, the branch chosen by what it could reach) with a GP for short runs of at least
    /// <see cref="MinBranchGpBudget"/> trials and grouped TPE for shorter and longer ones.
    /// Grouped TPE with broad numeric kernels for several interacting categorical parameters; GP for up to
    /// <see cref="MaxGpDimensions"/> parameters and <see cref="MaxGpBudget"/> trials (categorical ones included: on the quality suite's mixed space GP beats TPE by
    /// two orders of magnitude), handing the run to grouped TPE when the GP's fit on the first 50 trials finds a rugged
    /// landscape; CMA-ES for long runs on numeric spaces; TPE otherwise. Chosen on the quality bench's
    /// hierarchical functions (docs/BENCHMARKS.md).
    /// </summary>
    public static AutoChoice Decide(SpaceShape shape, int? budget, IReadOnlyCollection<string> available)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(available);
        bool Has(string name) => available.Contains(name, StringComparer.OrdinalIgnoreCase);

        if (shape.GridSize is { } grid && Has("grid"))
        {
            if (budget is { } b && grid <= b)
                return new("grid", $"every parameter is discrete and the {grid}-point grid fits the budget of {b} trials");
            if (budget is null && grid <= MaxUnbudgetedGrid)
                return new("grid", $"every parameter is discrete and the grid has only {grid} points");
        }
        var shortRun = budget is { } limit && limit <= MaxGpBudget;
        if (shape.Conditional)
        {
            var gpFits = shortRun && shape.Dimensions <= MaxGpDimensions && Has("gp");
            if (shape.VariableRepeat)
            {
                // The forest learns each block's parameters from every layer count at once, which wins early; once the
                // budget gives each layer count's GP ten trials per parameter, a GP per layer count refines the widths the
                // forest's steps miss.
                if (gpFits && budget >= RepeatGpTrialsPerParameter * shape.RepeatBranchDimensions)
                    return new("gp", $"blocks that repeat a variable number of times and a budget of {budget} trials, {RepeatGpTrialsPerParameter} per parameter of every layer count: a Gaussian process per layer count, each valued by what it could reach", AutoChoice.BranchGp);
                if (Has("rf"))
                    return new("rf", "blocks that repeat a variable number of times: a random forest splits on the parameters of absent blocks directly");
            }
            if (gpFits && budget >= MinBranchGpBudget)
                return new("gp", $"exclusive branches and a budget of {budget} trials: a Gaussian process per branch, each branch valued by what it could reach", AutoChoice.BranchGp);
            if (Has("tpe"))
                return new("tpe", gpFits
                    ? $"exclusive branches and a budget of {budget} trials, below the {MinBranchGpBudget} from which a Gaussian process per branch gets past its random start: TPE models each branch jointly on that branch's trials, each branch valued by what it could reach"
                    : "the space is conditional: TPE models each branch jointly on that branch's trials, each branch valued by what it could reach", AutoChoice.BranchTpe);
        }
        if (shape.CategoricalHeavy && Has("tpe"))
            return new("tpe", $"{shape.Categorical} categorical parameters whose best values may interact: TPE models them jointly, with broad numeric kernels so that the categories decide, and tries changing two of them together; a Gaussian process proposes a share of the trials, learning the numbers that suit each category", AutoChoice.CategoricalTpe);
        if (shortRun && shape.Dimensions <= MaxGpDimensions && Has("gp"))
            return shape.Categorical > 0
                ? new("gp", $"{shape.Dimensions} parameters and a budget of {budget} trials: a Gaussian process is the most sample-efficient, handing over to TPE if its fit on the first trials finds a rugged landscape; every 6th trial a category bandit values each category by its own trials and proposes from the leading one's own model", AutoChoice.RuggedGpCategories)
                : new("gp", $"{shape.Dimensions} parameters and a budget of {budget} trials: a Gaussian process is the most sample-efficient, handing over to TPE if its fit on the first trials finds a rugged landscape", AutoChoice.RuggedGp);
        if (!shortRun && shape.Categorical == 0 && shape.Dimensions >= 2 && Has("cmaes"))
            return new("cmaes", budget is null
                ? "a numeric space with no trial budget: CMA-ES keeps improving over long runs at a small cost per trial"
                : $"a numeric space and a long run of {budget} trials: CMA-ES keeps improving at a small cost per trial");
        if (Has("tpe"))
            return new("tpe", shape.Categorical > 0
                ? "categorical parameters: TPE models them directly"
                : "TPE suits this space and budget");
        return new("random", "no model-based sampler is available");
    }

    /// <summary>
    /// Builds the sampler <see cref="Decide"/> picks for the request's space and budget (without a space: TPE, which
    /// handles any define-by-run objective). Options are passed to the chosen sampler only when it is named explicitly.
    /// </summary>
    public static AutoSampler Create(SamplerRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Options.Count > 0)
            throw new ArgumentException($"sampler 'auto' takes no options besides seed (got: {string.Join(", ", request.Options.Keys)}); name a sampler to set its options");
        var available = SamplerRegistry.Names.Where(n => !string.Equals(n, "auto", StringComparison.OrdinalIgnoreCase)).ToArray();
        var choice = request.Space is { } space
            ? Decide(SpaceShape.Of(space), request.TrialBudget, available)
            : available.Contains("tpe") ? new AutoChoice("tpe", "the space is defined by the objective as it runs: TPE handles any shape, one model per branch", AutoChoice.BranchTpe)
            : new AutoChoice("random", "no model-based sampler is available");
        var inner = SamplerRegistry.Create(choice.Sampler, request with { Options = choice.Options ?? new Dictionary<string, object?>() });
        return inner is IFiniteSampler finite ? new FiniteAutoSampler(finite, choice) : new AutoSampler(inner, choice);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => Inner.InferRelativeSearchSpace(context);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) =>
        Inner.SampleRelative(context, searchSpace);

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
        Inner.SampleIndependent(context, name, distribution);

    /// <summary><c>auto</c> over a finite sampler (a grid): the study enqueues its configurations exactly once, as for the grid itself.</summary>
    private sealed class FiniteAutoSampler(IFiniteSampler inner, AutoChoice choice) : AutoSampler(inner, choice), IFiniteSampler
    {
        public string EnumerationKey => inner.EnumerationKey;

        public IReadOnlyList<IReadOnlyDictionary<string, object?>> EnumerateConfigurations() => inner.EnumerateConfigurations();
    }
}
