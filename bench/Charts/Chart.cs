using ScottPlot;

namespace TicketQueue.Charts;

/// <summary>One named series of (x, y) points for a line chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// PNG charts for docs/performance/, drawn with ScottPlot. Each benchmark writes its chart next to the
/// figures it prints, so the picture and the table always come from the same run.
/// </summary>
public static class Chart
{
    private const int Width = 900;
    private const int Height = 520;

    /// <summary>One bar per label, its value printed above it; optional dashed lines mark targets.</summary>
    public static string Bars(string path, string title, string valueLabel, IReadOnlyList<(string Label, double Value)> bars,
        IReadOnlyList<(string Label, double Value)>? targets = null, string valueFormat = "N0")
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var items = bars.Select((b, i) => new Bar
        {
            Position = i,
            Value = b.Value,
            FillColor = palette.GetColor(i),
            Label = b.Value.ToString(valueFormat, System.Globalization.CultureInfo.InvariantCulture),
        }).ToList();
        var series = plot.Add.Bars(items);
        series.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks([.. bars.Select((_, i) => (double)i)], [.. bars.Select(b => b.Label)]);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Margins(bottom: 0, top: 0.15);
        foreach (var (label, value) in targets ?? [])
        {
            var line = plot.Add.HorizontalLine(value);
            line.LinePattern = LinePattern.Dashed;
            line.LineWidth = 2;
            line.LabelText = label;
            line.LabelOppositeAxis = false;
        }

        return Save(plot, path, title, valueLabel);
    }

    /// <summary>Lines through (x, y) points, one per series, with a legend.</summary>
    public static string Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        bool logX = false)
    {
        var plot = new Plot();
        foreach (var s in series)
        {
            var xs = s.X.Select(x => logX ? Math.Log10(x) : x).ToArray();
            var line = plot.Add.Scatter(xs, s.Y.ToArray());
            line.LegendText = s.Name;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }

        if (logX)
        {
            var ticks = series.SelectMany(s => s.X).Distinct().Order().ToArray();
            plot.Axes.Bottom.SetTicks([.. ticks.Select(Math.Log10)], [.. ticks.Select(Format)]);
        }

        plot.XLabel(xLabel);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(bottom: 0);
        return Save(plot, path, title, yLabel);
    }

    /// <summary>A histogram-like view of a distribution: the value at each percentile.</summary>
    public static string Percentiles(string path, string title, string valueLabel, IReadOnlyList<(string Name, IReadOnlyList<double> Samples)> distributions)
    {
        double[] percentiles = [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100];
        return Lines(path, title, "percentile", valueLabel, [.. distributions.Select(d =>
        {
            var sorted = d.Samples.Order().ToArray();
            return new Series(d.Name, percentiles, [.. percentiles.Select(p => Percentile(sorted, p))]);
        })]);
    }

    /// <summary>The p-th percentile (0..100) of sorted values, nearest rank.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    /// <summary>docs/performance/{name}.png of the repository this program runs from.</summary>
    public static string DocsPath(string name)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TicketQueue.sln")))
            {
                var docs = Path.Combine(folder.FullName, "docs", "performance");
                Directory.CreateDirectory(docs);
                return Path.Combine(docs, name + ".png");
            }
        }

        throw new InvalidOperationException("The repository root (TicketQueue.sln) is not above " + AppContext.BaseDirectory);
    }

    private static string Save(Plot plot, string path, string title, string yLabel)
    {
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.SavePng(path, Width, Height);
        return path;
    }

    private static string Format(double x) =>
        x >= 1_000_000 ? $"{x / 1_000_000:0.#}M" : x >= 1_000 ? $"{x / 1_000:0.#}K" : x.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
}
