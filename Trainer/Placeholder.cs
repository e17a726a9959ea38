namespace Orchestrator.Trainer; internal static class Placeholder {}
