using System.Globalization;
using System.Text;

namespace TicketQueue.Charts;

/// <summary>A Markdown table for the console, ready to paste into docs/performance.md.</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public Table Row(params object[] cells)
    {
        _rows.Add([.. cells.Select(Cell)]);
        return this;
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", headers) + " |");
        text.AppendLine("| " + string.Join(" | ", headers.Select(_ => "---")) + " |");
        foreach (var row in _rows)
        {
            text.AppendLine("| " + string.Join(" | ", row) + " |");
        }

        return text.ToString();
    }

    private static string Cell(object value) => value switch
    {
        double d => d.ToString(Math.Abs(d) >= 100 ? "N0" : "N2", CultureInfo.InvariantCulture),
        float f => ((double)f).ToString("N2", CultureInfo.InvariantCulture),
        int or long => string.Format(CultureInfo.InvariantCulture, "{0:N0}", value),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
