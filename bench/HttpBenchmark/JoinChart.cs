using System.Globalization;
using ScottPlot;

namespace TicketQueue.HttpBenchmark;

/// <summary>
/// The bar chart of this benchmark. Like TicketQueue.Charts.Chart.Bars, but the target lines are named in a
/// legend rather than on the axis, where labels of lines close to each other cover one another.
/// </summary>
public static class JoinChart
{
    private const int Width = 900;
    private const int Height = 520;

    public static string Bars(string path, string title, IReadOnlyList<(string Label, double Value, bool Joins)> bars,
        IReadOnlyList<(string Label, double Value)> targets)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var colored = 0;
        var series = plot.Add.Bars(bars.Select((b, i) => new Bar
        {
            Position = i,
            Value = b.Value,
            // The HTTP-only yardsticks in grey, the joins in colour.
            FillColor = b.Joins ? palette.GetColor(colored++) : Colors.Gray.WithAlpha(0.5),
            Label = b.Value.ToString("N0", CultureInfo.InvariantCulture),
        }).ToList());
        series.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks([.. bars.Select((_, i) => (double)i)], [.. bars.Select(b => b.Label)]);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Margins(bottom: 0, top: 0.2);

        var lineColors = new[] { Colors.Black, Colors.DarkRed, Colors.DarkGreen };
        for (var i = 0; i < targets.Count; i++)
        {
            var line = plot.Add.HorizontalLine(targets[i].Value);
            line.LinePattern = LinePattern.Dashed;
            line.LineWidth = 2;
            line.Color = lineColors[i % lineColors.Length];
            line.LegendText = $"target: {targets[i].Label} ({targets[i].Value.ToString("N0", CultureInfo.InvariantCulture)}/s)";
        }

        plot.ShowLegend(Alignment.UpperRight);
        plot.Title(title);
        plot.YLabel("requests per second");
        plot.SavePng(path, Width, Height);
        return path;
    }
}
