using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// The hub's JSON protocol, with a code on calls whose arguments cannot be bound.
/// </summary>
/// <remarks>
/// SignalR binds a call's arguments while it parses the message, before any hub filter runs, and a
/// failure reaches the client as a bare "Failed to invoke 'Follow' due to an error on the server."
/// SignalR does pass on the message of a <see cref="HubException"/>, so this wrapper turns the failure
/// into one that reads like <see cref="ProblemHubFilter"/>'s: "invalid-arguments: 'Follow' takes 2
/// arguments (string, string). …", or "unknown-method: …" for a method the hub does not have.
/// </remarks>
public sealed class CodedBindingFailures(IHubProtocol inner) : IHubProtocol
{
    public string Name => inner.Name;

    public int Version => inner.Version;

    public TransferFormat TransferFormat => inner.TransferFormat;

    public bool IsVersionSupported(int version) => inner.IsVersionSupported(version);

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
    {
        if (!inner.TryParseMessage(ref input, binder, out message))
        {
            return false;
        }

        if (message is InvocationBindingFailureMessage failure)
        {
            message = new InvocationBindingFailureMessage(failure.InvocationId, failure.Target,
                ExceptionDispatchInfo.Capture(Explain(failure, binder)));
        }

        return true;
    }

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => inner.WriteMessage(message, output);

    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => inner.GetMessageBytes(message);

    private static HubException Explain(InvocationBindingFailureMessage failure, IInvocationBinder binder)
    {
        IReadOnlyList<Type> parameters;
        try
        {
            parameters = binder.GetParameterTypes(failure.Target);
        }
        catch (HubException)
        {
            return new HubException($"unknown-method: The hub has no method '{Shown(failure.Target)}'.");
        }

        var signature = string.Join(", ", parameters.Select(t => t == typeof(string) ? "string" : t.Name));
        return new HubException(
            $"invalid-arguments: '{failure.Target}' takes {parameters.Count} argument(s) ({signature}). " +
            failure.BindingFailure.SourceException.Message);
    }

    private static string Shown(string target) => target.Length > 64 ? target[..64] + "…" : target;
}
