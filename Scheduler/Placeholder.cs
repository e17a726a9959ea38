namespace Orchestrator.Scheduler; internal static class Placeholder {}
