using Orleans.Storage;
using System.Buffers.Binary;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// The embedded stack's queue record store: per shard, an append-only log of fixed 29-byte records in
/// 4 KB chunks (so a growing log never holds more than one chunk of spare room), compacted when it has
/// doubled since its last compaction. It lives as long as the process, as the in-memory grain storage does.
/// </summary>
public sealed class MemoryQueueEntryStore(IDomainEventOutbox outbox) : IQueueEntryStore
{
    private const int RecordSize = 29;
    private const int RecordsPerChunk = 4096 / RecordSize;
    private const byte Removed = 0xFF;

    private readonly Dictionary<string, ShardLog> _shards = new(StringComparer.Ordinal);

    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken)
    {
        lock (_shards)
        {
            return Task.FromResult(_shards.TryGetValue(shardKey, out var log)
                ? new QueueShardSnapshot(log.Version, log.Replay())
                : new QueueShardSnapshot(0, []));
        }
    }

    public async Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        // In memory the records and the events share the process's fate: nothing to make atomic.
        var saved = SaveRecords(shardKey, version, changes);
        await outbox.Append(events, cancellationToken);
        return saved;
    }

    private long SaveRecords(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes)
    {
        lock (_shards)
        {
            if (!_shards.TryGetValue(shardKey, out var log))
            {
                _shards[shardKey] = log = new ShardLog();
            }

            if (log.Version != version)
            {
                throw new InconsistentStateException(
                    $"Queue shard '{shardKey}' is at version {log.Version}, not {version}.", log.Version.ToString(), version.ToString());
            }

            foreach (var change in changes)
            {
                log.Append(change);
            }

            log.Version++;
            log.CompactIfGrown();
            return log.Version;
        }
    }

    private sealed class ShardLog
    {
        private readonly List<byte[]> _chunks = [];
        private int _count;
        private int _compactAt = 1024;

        public long Version { get; set; }

        public void Append(QueueEntryChange change)
        {
            // Every chunk but the last is full; the last starts small and doubles up to a full chunk, so a shard
            // with few records does not hold a whole chunk of spare room.
            var offset = _count % RecordsPerChunk;
            if (offset == 0)
            {
                _chunks.Add(new byte[16 * RecordSize]);
            }
            else if ((offset + 1) * RecordSize > _chunks[^1].Length)
            {
                var grown = new byte[Math.Min(RecordsPerChunk, 2 * offset) * RecordSize];
                _chunks[^1].CopyTo(grown, 0);
                _chunks[^1] = grown;
            }

            var record = Record(_count);
            change.UserId.TryWriteBytes(record[..16]);
            var entry = change.Entry ?? default;
            BinaryPrimitives.WriteInt64LittleEndian(record[16..24], entry.Number);
            BinaryPrimitives.WriteInt32LittleEndian(record[24..28], entry.BatchId);
            record[28] = change.Entry is null ? Removed : (byte)entry.Flags;
            _count++;
        }

        public Dictionary<Guid, QueueEntry> Replay()
        {
            var entries = new Dictionary<Guid, QueueEntry>();
            for (var i = 0; i < _count; i++)
            {
                var record = Record(i);
                var userId = new Guid(record[..16]);
                if (record[28] == Removed)
                {
                    entries.Remove(userId);
                    continue;
                }

                entries[userId] = new QueueEntry
                {
                    Number = BinaryPrimitives.ReadInt64LittleEndian(record[16..24]),
                    BatchId = BinaryPrimitives.ReadInt32LittleEndian(record[24..28]),
                    Flags = (QueueEntryFlags)record[28],
                };
            }

            return entries;
        }

        // Rewriting costs O(live records); doing it only when the log has doubled since the last rewrite
        // keeps it O(1) per change, and bounds the dead records to the live ones plus the first 1024.
        public void CompactIfGrown()
        {
            if (_count < _compactAt)
            {
                return;
            }

            var entries = Replay();
            _chunks.Clear();
            _count = 0;
            foreach (var (userId, entry) in entries)
            {
                Append(new QueueEntryChange(userId, entry));
            }

            _compactAt = Math.Max(1024, 2 * _count);
        }

        private Span<byte> Record(int index) =>
            _chunks[index / RecordsPerChunk].AsSpan(index % RecordsPerChunk * RecordSize, RecordSize);
    }
}
