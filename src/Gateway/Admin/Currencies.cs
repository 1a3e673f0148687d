using System.Collections.Frozen;

namespace TicketQueue.Gateway.Admin;

/// <summary>
/// The ISO 4217 currencies a ticket can be priced in (active codes, without metals and test codes, and
/// of the fund codes only UYI), each with its minor unit: the number of decimals an amount in it may have.
/// Withdrawn codes are not listed: BGN went when Bulgaria moved to the euro on 1 January 2026.
/// </summary>
public static class Currencies
{
    private const string NoMinorUnit = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
    private const string ThreeDecimals = "BHD IQD JOD KWD LYD OMR TND";
    private const string TwoDecimals =
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF " +
        "CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG " +
        "HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU " +
        "MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR " +
        "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES " +
        "VED WST XCD XCG YER ZAR ZMW ZWG";

    private static readonly FrozenDictionary<string, int> MinorUnits = new[] { (NoMinorUnit, 0), (TwoDecimals, 2), (ThreeDecimals, 3) }
        .SelectMany(group => group.Item1.Split(' ').Select(code => KeyValuePair.Create(code, group.Item2)))
        .ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The number of decimals amounts in <paramref name="code"/> may have; <c>null</c> if it is no currency we price in.</summary>
    public static int? MinorUnit(string code) => MinorUnits.TryGetValue(code, out var decimals) ? decimals : null;

    /// <summary>Whether <paramref name="amount"/> can be paid in a currency with <paramref name="minorUnit"/> decimals (1000.5 KRW cannot).</summary>
    public static bool Fits(decimal amount, int minorUnit) => decimal.Round(amount, minorUnit) == amount;
}
