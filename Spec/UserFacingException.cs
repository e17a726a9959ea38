namespace Orchestrator.Spec;

/// <summary>
/// A mistake the user can fix (bad spec, missing file, unwritable directory). The CLI prints its
/// message without a stack trace and exits with code 2; every other exception is a bug.
/// </summary>
public class UserFacingException : Exception
{
    /// <summary>Creates the exception with the message shown to the user.</summary>
    public UserFacingException(string message) : base(message) { }

    /// <summary>Creates the exception with the message shown to the user and the underlying cause.</summary>
    public UserFacingException(string message, Exception inner) : base(message, inner) { }
}
