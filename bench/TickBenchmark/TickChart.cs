using System.Globalization;
using ScottPlot;

namespace TicketQueue.TickBenchmark;

/// <summary>
/// docs/performance/tick-cost.png: per size, the tick's cost relative to the smallest size, one bar for the
/// logic alone and one for the whole tick in the silo, each labelled with its absolute figure. Flat means
/// every bar near 1; the dashed line is the target (2x). Charts.Chart.Bars draws one series; this needs two.
/// </summary>
internal static class TickChart
{
    public sealed record Group(string Label, double? LogicRatio, string LogicText, double? GrainRatio, string GrainText);

    public static string Draw(string path, string title, IReadOnlyList<Group> groups)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var logicColor = palette.GetColor(0);
        var grainColor = palette.GetColor(1);
        var bars = new List<Bar>();
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            if (group.LogicRatio is { } logic)
            {
                bars.Add(new Bar { Position = (g * 3) + 0, Value = logic, FillColor = logicColor, Label = $"{Times(logic)}\n{group.LogicText}" });
            }

            if (group.GrainRatio is { } grain)
            {
                bars.Add(new Bar { Position = (g * 3) + 1, Value = grain, FillColor = grainColor, Label = $"{Times(grain)}\n{group.GrainText}" });
            }
        }

        var series = plot.Add.Bars(bars);
        series.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.SetTicks([.. groups.Select((_, g) => (g * 3) + 0.5)], [.. groups.Select(group => group.Label + " waiting")]);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;

        var target = plot.Add.HorizontalLine(2.0);
        target.LinePattern = LinePattern.Dashed;
        target.LineWidth = 2;
        target.LineColor = Colors.Red;

        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "tick logic (AdmissionPacer.Tick, BenchmarkDotNet median)", FillColor = logicColor });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "whole tick in the silo (queue grain, median)", FillColor = grainColor });
        plot.Legend.ManualItems.Add(new LegendItem
        {
            LabelText = "target: at most 2x the smallest size",
            LineColor = Colors.Red,
            LinePattern = LinePattern.Dashed,
            LineWidth = 2,
        });
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.SetLimits(-0.8, (groups.Count * 3) - 0.2, 0, Math.Max(3, bars.Count == 0 ? 0 : bars.Max(b => b.Value) * 1.3));
        plot.Title(title);
        plot.YLabel("cost relative to the smallest size");
        plot.SavePng(path, 900, 520);
        return path;
    }

    private static string Times(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x";
}
