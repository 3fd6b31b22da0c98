namespace SamAdapt.Server.Security;

/// <summary>A request the server refuses, with the HTTP status and the message the page shows.</summary>
public sealed class ApiError(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
