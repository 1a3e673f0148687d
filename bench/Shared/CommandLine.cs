using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace TicketQueue.Bench;

/// <summary>How every benchmark starts: --help prints the usage (exit 0), a bad argument is named (exit 2).</summary>
public static class CommandLine
{
    public static bool TryParse<T>(string[] args, string usage, Func<string[], T> parse, [NotNullWhen(true)] out T? options, out int exitCode)
        where T : class
    {
        options = null;
        exitCode = 0;
        if (args is ["-h"] or ["--help"])
        {
            Console.WriteLine(usage);
            return false;
        }

        try
        {
            options = parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            exitCode = 2;
            return false;
        }

        // Figures print the same on every machine: 1,234.5, not 1.234,5.
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        return true;
    }

    /// <summary>An option's value that must be a whole number above 0; otherwise an error naming the option.</summary>
    public static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a positive integer, not '{value}'.");

    /// <summary>An option's value that must be a whole number, 0 or more; otherwise an error naming the option.</summary>
    public static int NonNegative(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : throw new ArgumentException($"{name} must be a non-negative integer, not '{value}'.");
}
