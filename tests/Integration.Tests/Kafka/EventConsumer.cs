using System.Text;
using CloudNative.CloudEvents;
using Confluent.Kafka;
using TicketQueue.Grains.DomainEvents;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>One message as a consumer read it: where it sits in the log, its key, header and CloudEvent.</summary>
public sealed record ReceivedEvent(string Topic, int Partition, long Offset, string Key, string? ContentType, CloudEvent Event);

/// <summary>
/// A member of a Kafka consumer group reading the relay's topics from the beginning, on a thread of its
/// own, and committing what it read. Each log position is kept once: a message read again after a
/// rebalance is the same message, while a message the producer sent twice sits at two offsets.
/// </summary>
public sealed class EventConsumer : IDisposable
{
    private readonly IConsumer<string, byte[]> _consumer;
    private readonly List<ReceivedEvent> _received = [];
    private readonly HashSet<(string, int, long)> _positions = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Exception? _failure;

    private EventConsumer(IConsumer<string, byte[]> consumer)
    {
        _consumer = consumer;
        _thread = new Thread(Run) { IsBackground = true, Name = "kafka-test-consumer" };
    }

    public static EventConsumer Start(string bootstrapServers, IEnumerable<string> topics)
    {
        var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "relay-tests-" + Guid.NewGuid().ToString("N")[..8],
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = 200,
            SessionTimeoutMs = 6000,
            // Broker outages are part of the tests; the consumer should notice the broker back quickly.
            ReconnectBackoffMaxMs = 500,
        }).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(topics);
        var started = new EventConsumer(consumer);
        started._thread.Start();
        return started;
    }

    /// <summary>Everything read so far, in the order it was read.</summary>
    public IReadOnlyList<ReceivedEvent> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Polls until <paramref name="done"/> holds for what was read, or fails after <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<ReceivedEvent>> WaitUntil(Func<IReadOnlyList<ReceivedEvent>, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_failure is not null)
            {
                throw new InvalidOperationException("The consumer failed.", _failure);
            }

            var received = Received;
            if (done(received))
            {
                return received;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout} waiting for {what}; {received.Count} messages read.");
            }

            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                ConsumeResult<string, byte[]>? result;
                try
                {
                    result = _consumer.Consume(TimeSpan.FromMilliseconds(50));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue;
                }

                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }

                var header = result.Message.Headers.TryGetLastBytes("content-type", out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
                var received = new ReceivedEvent(result.Topic, result.Partition.Value, result.Offset.Value, result.Message.Key, header,
                    CloudEventEnvelope.Decode(result.Message.Value));
                lock (_received)
                {
                    if (_positions.Add((received.Topic, received.Partition, received.Offset)))
                    {
                        _received.Add(received);
                    }
                }
            }
        }
        catch (Exception e) when (e is ConsumeException or KafkaException or ArgumentException or FormatException)
        {
            _failure = e;
        }
    }
}
