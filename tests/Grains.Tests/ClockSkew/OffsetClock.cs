namespace TicketQueue.Grains.Tests.ClockSkew;

/// <summary>
/// Another silo's view of the same fake clock: it reads <paramref name="offset"/> away from it, and its
/// timers fire when the fake clock is moved, as the first silo's do.
/// </summary>
internal sealed class OffsetClock(TimeProvider clock, TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => clock.GetUtcNow() + offset;

    public override long GetTimestamp() => clock.GetTimestamp();

    public override long TimestampFrequency => clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => clock.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        clock.CreateTimer(callback, state, dueTime, period);
}
