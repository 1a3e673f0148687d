using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using TicketQueue.Grains.Hosting;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>
/// The ADO.NET grain storage against init-db.sql's own queries, through the provider the silo built:
/// reads, writes, ETag conflicts, clearing, and which schema a provider writes to.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class GrainStorageContractTests(DatabaseFixture db)
{
    private IGrainStorage Storage(string name) => db.SiloServices.GetRequiredKeyedService<IGrainStorage>(name);

    private static GrainId NewId() => GrainId.Create("probe", "key-" + Guid.NewGuid().ToString("N"));

    private static GrainState<List<string>> Empty() => new([]);

    [Fact]
    public async Task A_record_never_written_reads_as_absent_with_no_etag()
    {
        var state = Empty();
        await Storage(StorageNames.Accounts).ReadStateAsync("probe", NewId(), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.NotNull(state.State);
        Assert.Empty(state.State);
    }

    [Fact]
    public async Task A_written_record_reads_back_with_the_same_etag()
    {
        var storage = Storage(StorageNames.Accounts);
        var id = NewId();
        var written = new GrainState<List<string>>(["seat A-1", "seat A-2"]);
        await storage.WriteStateAsync("probe", id, written);

        var read = Empty();
        await storage.ReadStateAsync("probe", id, read);

        Assert.True(read.RecordExists);
        Assert.Equal(["seat A-1", "seat A-2"], read.State);
        Assert.Equal(written.ETag, read.ETag);
        Assert.NotNull(read.ETag);
    }

    [Fact]
    public async Task A_write_based_on_a_stale_read_is_rejected()
    {
        var storage = Storage(StorageNames.Reservations);
        var id = NewId();
        await storage.WriteStateAsync("probe", id, new GrainState<List<string>>(["v1"]));

        var first = Empty();
        var second = Empty();
        await storage.ReadStateAsync("probe", id, first);
        await storage.ReadStateAsync("probe", id, second);
        first.State = ["v2 from the first reader"];
        await storage.WriteStateAsync("probe", id, first);

        second.State = ["v2 from the second reader"];
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("probe", id, second));

        var now = Empty();
        await storage.ReadStateAsync("probe", id, now);
        Assert.Equal(["v2 from the first reader"], now.State);
    }

    [Fact]
    public async Task Two_first_writes_of_the_same_record_cannot_both_succeed()
    {
        var storage = Storage(StorageNames.Events);
        var id = NewId();
        var first = Empty();
        var second = Empty();
        await storage.ReadStateAsync("probe", id, first);
        await storage.ReadStateAsync("probe", id, second);

        first.State = ["first"];
        await storage.WriteStateAsync("probe", id, first);
        second.State = ["second"];

        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("probe", id, second));
    }

    [Fact]
    public async Task Clearing_keeps_a_version_that_still_guards_the_next_write()
    {
        var storage = Storage(StorageNames.Payments);
        var id = NewId();
        var state = new GrainState<List<string>>(["paid"]);
        await storage.WriteStateAsync("probe", id, state);
        var beforeClear = Empty();
        await storage.ReadStateAsync("probe", id, beforeClear);

        await storage.ClearStateAsync("probe", id, state);
        var read = Empty();
        await storage.ReadStateAsync("probe", id, read);

        Assert.False(read.RecordExists);
        Assert.NotNull(read.State);
        Assert.Empty(read.State);
        Assert.NotNull(read.ETag);
        Assert.NotEqual(beforeClear.ETag, read.ETag);

        beforeClear.State = ["written over a clear it never saw"];
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("probe", id, beforeClear));
        read.State = ["written after the clear"];
        await storage.WriteStateAsync("probe", id, read);
    }

    [Fact]
    public async Task State_names_and_key_kinds_do_not_share_records()
    {
        var storage = Storage(StorageNames.Accounts);
        var guid = Guid.NewGuid();
        var ids = new[]
        {
            GrainId.Create("probe", guid.ToString("N")),
            GrainId.Create("probe", "email:" + guid.ToString("N")),
            GrainId.Create("probe", "email:" + guid.ToString("N") + "#1"),
        };
        foreach (var (id, index) in ids.Select((id, i) => (id, i)))
        {
            await storage.WriteStateAsync("probe", id, new GrainState<List<string>>([$"record {index}"]));
            await storage.WriteStateAsync("other", id, new GrainState<List<string>>([$"other {index}"]));
        }

        foreach (var (id, index) in ids.Select((id, i) => (id, i)))
        {
            var probe = Empty();
            var other = Empty();
            await storage.ReadStateAsync("probe", id, probe);
            await storage.ReadStateAsync("other", id, other);
            Assert.Equal([$"record {index}"], probe.State);
            Assert.Equal([$"other {index}"], other.State);
        }
    }

    [Theory]
    [InlineData(StorageNames.Accounts, "user_service")]
    [InlineData(StorageNames.Events, "event_service")]
    [InlineData(StorageNames.Reservations, "reservation_service")]
    [InlineData(StorageNames.Payments, "payment_service")]
    public async Task Each_provider_writes_to_its_own_services_schema(string provider, string schema)
    {
        var id = GrainId.Create("probe", "schema-" + Guid.NewGuid().ToString("N"));
        await Storage(provider).WriteStateAsync("schema-probe", id, new GrainState<List<string>>(["x"]));

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        var counts = new Dictionary<string, long>();
        foreach (var candidate in StorageNames.Schemas.Values)
        {
            await using var command = new NpgsqlCommand(
                $"SELECT count(*) FROM {candidate}.grain_state WHERE grain_type = 'schema-probe' AND grain_id_ext LIKE $1", connection);
            command.Parameters.AddWithValue("%" + id.Key.ToString()!);
            counts[candidate] = (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        }

        Assert.Equal(1, counts[schema]);
        Assert.Equal(1, counts.Values.Sum());
    }
}
