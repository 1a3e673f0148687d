using System.Runtime.InteropServices;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// A Kafka cluster in this process: librdkafka's mock cluster, which speaks the Kafka protocol on
/// 127.0.0.1, keeps everything in memory and creates topics when they are first asked for. Reached by
/// P/Invoke into the very librdkafka file Confluent.Kafka loaded (on Debian 12 its
/// <c>centos8-librdkafka.so</c>; a second copy of the library would be a second, separate librdkafka).
/// </summary>
public sealed class KafkaMockCluster : IDisposable
{
    private const int ProducerType = 0;

    private static readonly Lazy<Native> Api = new(Native.Load);

    private readonly IntPtr _handle;
    private IntPtr _cluster;

    private KafkaMockCluster(IntPtr handle, IntPtr cluster, int brokers)
    {
        _handle = handle;
        _cluster = cluster;
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(Api.Value.Bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster has no bootstrap servers.");
    }

    public string BootstrapServers { get; }

    /// <summary>Broker ids are 1..Brokers.</summary>
    public int Brokers { get; }

    /// <summary>The file the native calls go to (the one Confluent.Kafka loaded).</summary>
    public static string LibraryPath => Api.Value.Path;

    public static KafkaMockCluster Start(int brokers = 1)
    {
        var api = Api.Value;
        var error = new byte[512];
        var conf = api.ConfNew();
        // The handle only hosts the mock cluster's threads and never connects anywhere: no notice about
        // its missing bootstrap servers, please.
        api.ConfSet(conf, "log_level", "4", error, (UIntPtr)error.Length);
        var handle = api.New(ProducerType, conf, error, (UIntPtr)error.Length);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + System.Text.Encoding.UTF8.GetString(error).TrimEnd('\0'));
        }

        var cluster = api.ClusterNew(handle, brokers);
        if (cluster == IntPtr.Zero)
        {
            api.Destroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        // The mock's default waits 3 s before the first rebalance of a consumer group.
        api.GroupInitialRebalanceDelay(cluster, 0);
        return new KafkaMockCluster(handle, cluster, brokers);
    }

    /// <summary>Disconnects the broker and refuses new connections until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId) => Check(Api.Value.BrokerSetDown(_cluster, brokerId), "rd_kafka_mock_broker_set_down");

    public void SetBrokerUp(int brokerId) => Check(Api.Value.BrokerSetUp(_cluster, brokerId), "rd_kafka_mock_broker_set_up");

    public void SetAllBrokersDown()
    {
        for (var id = 1; id <= Brokers; id++)
        {
            SetBrokerDown(id);
        }
    }

    public void SetAllBrokersUp()
    {
        for (var id = 1; id <= Brokers; id++)
        {
            SetBrokerUp(id);
        }
    }

    /// <summary>Delays every response of the broker by this much.</summary>
    public void SetRoundTripTime(int brokerId, TimeSpan roundTrip) =>
        Check(Api.Value.BrokerSetRtt(_cluster, brokerId, (int)roundTrip.TotalMilliseconds), "rd_kafka_mock_broker_set_rtt");

    /// <summary>Makes the brokers answer every request about the topic with this error (e.g. 29, topic authorization failed).</summary>
    public void SetTopicError(string topic, Confluent.Kafka.ErrorCode error) => Api.Value.TopicSetError(_cluster, topic, (int)error);

    /// <summary>Creates a topic ahead of use (otherwise it is created with the mock's defaults on first use).</summary>
    public void CreateTopic(string topic, int partitions) =>
        Check(Api.Value.TopicCreate(_cluster, topic, partitions, Math.Min(Brokers, 3)), "rd_kafka_mock_topic_create");

    public void Dispose()
    {
        if (_cluster == IntPtr.Zero)
        {
            return;
        }

        Api.Value.ClusterDestroy(_cluster);
        _cluster = IntPtr.Zero;
        Api.Value.Destroy(_handle);
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw new InvalidOperationException($"{call} returned librdkafka error {error}.");
        }
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ConfNewFn();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int ConfSetFn(IntPtr conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value,
        byte[] errorBuffer, UIntPtr errorBufferSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr NewFn(int type, IntPtr conf, byte[] errorBuffer, UIntPtr errorBufferSize);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void DestroyFn(IntPtr handle);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ClusterNewFn(IntPtr handle, int brokers);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr BootstrapsFn(IntPtr cluster);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void ClusterDestroyFn(IntPtr cluster);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int BrokerFn(IntPtr cluster, int brokerId);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int BrokerRttFn(IntPtr cluster, int brokerId, int rttMs);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int TopicCreateFn(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitions, int replicationFactor);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void GroupDelayFn(IntPtr cluster, int delayMs);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void TopicSetErrorFn(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int error);

    private sealed record Native(
        string Path,
        ConfNewFn ConfNew,
        ConfSetFn ConfSet,
        NewFn New,
        DestroyFn Destroy,
        ClusterNewFn ClusterNew,
        BootstrapsFn Bootstraps,
        ClusterDestroyFn ClusterDestroy,
        BrokerFn BrokerSetDown,
        BrokerFn BrokerSetUp,
        BrokerRttFn BrokerSetRtt,
        TopicCreateFn TopicCreate,
        GroupDelayFn GroupInitialRebalanceDelay,
        TopicSetErrorFn TopicSetError)
    {
        public static Native Load()
        {
            var file = ConfluentsLibrary();
            var library = NativeLibrary.Load(file);
            return new Native(
                file,
                Export<ConfNewFn>(library, "rd_kafka_conf_new"),
                Export<ConfSetFn>(library, "rd_kafka_conf_set"),
                Export<NewFn>(library, "rd_kafka_new"),
                Export<DestroyFn>(library, "rd_kafka_destroy"),
                Export<ClusterNewFn>(library, "rd_kafka_mock_cluster_new"),
                Export<BootstrapsFn>(library, "rd_kafka_mock_cluster_bootstraps"),
                Export<ClusterDestroyFn>(library, "rd_kafka_mock_cluster_destroy"),
                Export<BrokerFn>(library, "rd_kafka_mock_broker_set_down"),
                Export<BrokerFn>(library, "rd_kafka_mock_broker_set_up"),
                Export<BrokerRttFn>(library, "rd_kafka_mock_broker_set_rtt"),
                Export<TopicCreateFn>(library, "rd_kafka_mock_topic_create"),
                Export<GroupDelayFn>(library, "rd_kafka_mock_group_initial_rebalance_delay_ms"),
                Export<TopicSetErrorFn>(library, "rd_kafka_mock_topic_set_error"));
        }

        private static T Export<T>(IntPtr library, string name) where T : Delegate =>
            Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, name));

        /// <summary>
        /// Confluent.Kafka picks among the librdkafka builds of librdkafka.redist at run time (the default
        /// Linux build needs libsasl2; without it, the centos8 build). Asking it for the version makes it
        /// load one; the process's memory map then names the file it chose.
        /// </summary>
        private static string ConfluentsLibrary()
        {
            _ = Confluent.Kafka.Library.Version;
            const string maps = "/proc/self/maps";
            var loaded = File.Exists(maps)
                ? File.ReadLines(maps)
                    .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    .Where(fields => fields.Length >= 6 && System.IO.Path.GetFileName(fields[5]).Contains("librdkafka", StringComparison.Ordinal))
                    .Select(fields => fields[5])
                    .FirstOrDefault()
                : null;
            return loaded ?? throw new InvalidOperationException(
                "Could not tell which librdkafka Confluent.Kafka loaded (no librdkafka in /proc/self/maps).");
        }
    }
}
