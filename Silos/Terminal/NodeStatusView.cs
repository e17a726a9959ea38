using System.Globalization;
using Orchestrator.Contracts.Models;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>The cluster's nodes as <c>orchestrator status</c> prints them: one row per node, slots used/free, its jobs, alive.</summary>
public static class NodeStatusView
{
    /// <summary>Prints the node table (nothing when no silo registered a node).</summary>
    public static void Print(IAnsiConsole console, SchedulerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(snapshot);
        var nodes = snapshot.Nodes.IsDefault ? [] : snapshot.Nodes;
        if (nodes.Length == 0) return;
        var table = new Table().Border(TableBorder.Rounded).Title(
            $"nodes: {nodes.Count(n => n.Alive)} alive, {nodes.Count(n => !n.Alive)} down; slots {snapshot.Capacity - snapshot.FreeSlots} used / {snapshot.FreeSlots} free");
        foreach (var column in new[] { "NODE", "ADDRESS", "SLOTS USED", "FREE", "GPUS", "JOBS", "ALIVE" })
            table.AddColumn(column);
        foreach (var node in nodes)
        {
            table.AddRow(
                Markup.Escape(node.Node.Name),
                Markup.Escape(node.Node.Address),
                $"{Int(node.Used)}/{Int(node.Node.Slots)}",
                Int(node.Free),
                Int(node.Node.Gpus),
                Markup.Escape(node.Jobs.IsDefaultOrEmpty ? "-" : string.Join(", ", node.Jobs)),
                node.Alive ? "[green]yes[/]" : "[red]no[/]");
        }
        console.Write(table);
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
