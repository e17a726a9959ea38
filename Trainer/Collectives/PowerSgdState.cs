using System.Buffers.Binary;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The synchronizer's checkpoint state with codec powersgd: the error-feedback residuals of every rank (as
/// <see cref="ErrorFeedback"/> writes them; empty without error feedback) and the warm-start factors (as
/// <see cref="PowerSgdAllreduce.WriteState"/> writes them). Little-endian: int32 magic "PSG1" | int32 length of the
/// residual state | the residual state | the factor state.
/// </summary>
public static class PowerSgdState
{
    private const int Magic = 0x31475350; // "PSG1" read as a little-endian int32

    /// <summary>Both parts in one state.</summary>
    public static byte[] Combine(ReadOnlySpan<byte> residuals, PowerSgdAllreduce factors)
    {
        var state = new byte[checked(8 + residuals.Length + factors.StateBytes)];
        BinaryPrimitives.WriteInt32LittleEndian(state, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(state.AsSpan(4), residuals.Length);
        residuals.CopyTo(state.AsSpan(8));
        factors.WriteState(state.AsSpan(8 + residuals.Length));
        return state;
    }

    /// <summary>
    /// The two parts of <paramref name="state"/>. A state without the magic (written with another codec: residuals only,
    /// or nothing) is all residuals and has no factors; a truncated one has neither, so both restores report it.
    /// </summary>
    public static void Split(ReadOnlySpan<byte> state, out ReadOnlySpan<byte> residuals, out ReadOnlySpan<byte> factors)
    {
        factors = default;
        residuals = state;
        if (state.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(state) != Magic) return;
        int length = BinaryPrimitives.ReadInt32LittleEndian(state[4..]);
        if (length < 0 || length > state.Length - 8)
        {
            residuals = state[..4]; // neither the residual nor the factor restore knows this: both start afresh and say so
            factors = state[..4];
            return;
        }
        residuals = state.Slice(8, length);
        factors = state[(8 + length)..];
    }
}
