using System.Globalization;

namespace Tunesmith.Spaces;

/// <summary>
/// How a double is written for people and programs, everywhere Tunesmith writes one (a trial program's argv, environment
/// and params.json, report tables, CSV and JSON exports, <c>best</c>, <c>status</c>): as Python writes it, so that what
/// Python, a spreadsheet or a person reads is what they expect — <c>6.5388e-05</c>, not .NET's <c>6.5388E-05</c>.
/// </summary>
public static class NumberText
{
    /// <summary>
    /// The shortest text that reads back as exactly <paramref name="value"/>, spelled as Python's <c>repr</c>: a lowercase
    /// <c>e</c> with a sign and at least two exponent digits when the decimal exponent is below -4 or above 15
    /// (<c>6.5388e-05</c>, <c>1e+16</c>), else plain digits with a point (<c>0.0001</c>, <c>3.0</c>,
    /// <c>1000000000000000.0</c>). It always holds a <c>.</c> or an <c>e</c>, so it never reads as an integer, and it is a
    /// valid JSON number. NaN and the infinities are <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> (both .NET and Python's
    /// <c>float()</c> read those).
    /// </summary>
    public static string Double(double value)
    {
        if (!double.IsFinite(value)) return value.ToString(CultureInfo.InvariantCulture);
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";
        var (negative, digits, point) = ShortestDigits(value);
        var sign = negative ? "-" : "";
        // point: the decimal point's place after the first digit's (0.d1d2... × 10^point). Python: plain for -4 < point ≤ 16.
        if (point > -4 && point <= 16)
        {
            if (point <= 0) return sign + "0." + new string('0', -point) + digits;
            if (point >= digits.Length) return sign + digits + new string('0', point - digits.Length) + ".0";
            return sign + digits[..point] + "." + digits[point..];
        }
        return sign + digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + Exponent(point - 1);
    }

    /// <summary>
    /// At most <paramref name="significantDigits"/> significant digits, for tables meant to be read at a glance, spelled as
    /// Python's <c>%g</c>: trailing zeros dropped, an exponent (lowercase <c>e</c>, a sign, at least two digits) when the
    /// decimal exponent is below -4 or at least the digits asked for (<c>6.5388e-05</c>, <c>0.000123457</c>, <c>1.5e+07</c>).
    /// </summary>
    public static string Short(double value, int significantDigits = 6)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(significantDigits, 1);
        if (!double.IsFinite(value)) return value.ToString(CultureInfo.InvariantCulture);
        // .NET's G switches to an exponent where %g does; only the exponent's spelling differs (E-05 → e-05).
        var text = value.ToString("G" + significantDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var e = text.IndexOf('E', StringComparison.Ordinal);
        return e < 0 ? text : text[..e] + Exponent(int.Parse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// A number echoed back to a person in a message, as a study file or a flag most likely spelled it: a whole number as
    /// an integer (<c>2</c>, not <c>2.0</c>), anything else as <see cref="Double"/> (<c>0.5</c>, <c>1e-05</c>, never .NET's
    /// <c>1E-05</c>).
    /// </summary>
    public static string AsWritten(double value) =>
        double.IsFinite(value) && value == Math.Floor(value) && Math.Abs(value) < 1e15
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : Double(value);

    /// <summary>Writes a finite double as a JSON property spelled as <see cref="Double"/> (<c>6.5388e-05</c>), not as Utf8JsonWriter spells it (<c>6.5388E-05</c>).</summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is NaN or infinite (JSON has no such number).</exception>
    public static void WriteJson(System.Text.Json.Utf8JsonWriter writer, string propertyName, double value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!double.IsFinite(value)) throw new ArgumentException($"'{propertyName}': JSON has no number {value.ToString(CultureInfo.InvariantCulture)}", nameof(value));
        writer.WritePropertyName(propertyName);
        writer.WriteRawValue(Double(value));
    }

    private static string Exponent(int exponent) =>
        "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);

    // The shortest round-trip digits of |value| (no leading or trailing zeros) and where the decimal point goes.
    private static (bool Negative, string Digits, int Point) ShortestDigits(double value)
    {
        var r = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture); // shortest round-trip: "123.45", "1E-05", "1.5E+300"
        var exponent = 0;
        var e = r.IndexOf('E', StringComparison.Ordinal);
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        var dot = r.IndexOf('.', StringComparison.Ordinal);
        var intLength = dot < 0 ? r.Length : dot;
        var all = dot < 0 ? r : r.Remove(dot, 1);
        var lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0') lead++;
        var digits = all[lead..].TrimEnd('0');
        return (value < 0, digits.Length == 0 ? "0" : digits, intLength - lead + exponent);
    }
}
