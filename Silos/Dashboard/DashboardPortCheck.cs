using System.Net;
using System.Net.Sockets;

namespace Orchestrator.Silos.Dashboard;

/// <summary>
/// Whether the dashboard's endpoint can be listened on, checked before the silo starts, so that a taken port or a foreign
/// address is reported against its config field instead of as a failure of the whole silo.
/// </summary>
public static class DashboardPortCheck
{
    /// <summary>Why <paramref name="config"/>'s endpoint cannot be listened on now (naming the config field), or null.</summary>
    public static string? Problem(DashboardConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var socket = new Socket(config.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As Kestrel binds: address reuse lets a port in TIME_WAIT be taken again, while a listening socket still refuses it.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(config.Endpoint);
            socket.Listen();
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return $"dashboard.port: {config.Port} on {config.Address} is already in use by another process; choose another dashboard.port";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return $"dashboard.address: {config.Address} is not an address of this machine";
        }
        catch (SocketException e)
        {
            return $"dashboard: cannot listen on {config.Endpoint}: {e.Message}";
        }
    }
}
