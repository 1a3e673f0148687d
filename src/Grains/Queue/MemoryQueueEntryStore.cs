using Orleans.Storage;
using System.Buffers.Binary;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// The embedded stack's queue record store: per shard, an append-only log of fixed 29-byte records
/// in one byte array, compacted when it holds more dead records than live ones. It lives as long as
/// the process, as the in-memory grain storage does.
/// </summary>
public sealed class MemoryQueueEntryStore : IQueueEntryStore
{
    private const int RecordSize = 29;
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

    public Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes, CancellationToken cancellationToken)
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
            log.CompactIfSparse();
            return Task.FromResult(log.Version);
        }
    }

    private sealed class ShardLog
    {
        private byte[] _bytes = new byte[RecordSize * 16];
        private int _count;
        private int _live;

        public long Version { get; set; }

        public void Append(QueueEntryChange change)
        {
            if (_bytes.Length < (_count + 1) * RecordSize)
            {
                Array.Resize(ref _bytes, _bytes.Length * 2);
            }

            var record = _bytes.AsSpan(_count * RecordSize, RecordSize);
            change.UserId.TryWriteBytes(record[..16]);
            var entry = change.Entry ?? default;
            BinaryPrimitives.WriteInt64LittleEndian(record[16..24], entry.Number);
            BinaryPrimitives.WriteInt32LittleEndian(record[24..28], entry.BatchId);
            record[28] = change.Entry is null ? Removed : (byte)entry.Flags;
            _count++;
        }

        public Dictionary<Guid, QueueEntry> Replay()
        {
            var entries = new Dictionary<Guid, QueueEntry>(_live);
            for (var i = 0; i < _count; i++)
            {
                var record = _bytes.AsSpan(i * RecordSize, RecordSize);
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

            _live = entries.Count;
            return entries;
        }

        // Rewriting costs O(live records); doing it only when the log has doubled keeps it O(1) per change.
        public void CompactIfSparse()
        {
            if (_count < 1024 || _count < 2 * _live)
            {
                return;
            }

            var entries = Replay();
            _bytes = new byte[Math.Max(RecordSize * 16, RecordSize * entries.Count * 3 / 2)];
            _count = 0;
            foreach (var (userId, entry) in entries)
            {
                Append(new QueueEntryChange(userId, entry));
            }

            _live = entries.Count;
        }
    }
}
