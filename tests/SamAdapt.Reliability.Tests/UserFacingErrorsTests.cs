using SamAdapt.Cli;
using SamAdapt.Common;

namespace SamAdapt.Reliability.Tests;

/// <summary>
/// The one classification of failures into "bad input, options or environment" and "bug" (<see cref="UserFacingErrors"/>),
/// used by the CLI's exit codes (<see cref="Errors"/>) and by the prediction runner's skipping of unreadable cases.
/// </summary>
public class UserFacingErrorsTests
{
    [Fact]
    public void Input_problems_are_user_facing_and_bugs_are_not()
    {
        Exception[] input = [new InvalidDataException("x"), new FileNotFoundException("x"), new DirectoryNotFoundException("x"),
            new FormatException("x"), new ArgumentException("x"), new UnauthorizedAccessException("x"), new NotSupportedException("x"),
            new ResourceLimitException("x"), new OutputOverwritesInputException("x"), new System.Text.Json.JsonException("x")];
        foreach (var e in input)
        {
            Assert.True(UserFacingErrors.IsUserFacing(e), e.GetType().Name);
            Assert.Equal(Errors.BadInput, Errors.ExitCode(e));
        }
        Exception[] bugs = [new InvalidOperationException("x"), new NullReferenceException("x"), new IndexOutOfRangeException("x")];
        foreach (var e in bugs)
        {
            Assert.False(UserFacingErrors.IsUserFacing(e), e.GetType().Name);
            Assert.Equal(Errors.Internal, Errors.ExitCode(e));
        }
    }

    [Fact]
    public void Wrappers_are_removed_and_a_user_facing_cause_is_preferred()
    {
        var bad = new InvalidDataException("case 3: not a NIfTI file");
        var wrapped = new AggregateException(new InvalidOperationException("other"), new AggregateException(bad));
        Assert.Same(bad, UserFacingErrors.Unwrap(wrapped));
        Assert.Same(bad, UserFacingErrors.Unwrap(new System.Reflection.TargetInvocationException(bad)));
        Assert.Equal(Errors.BadInput, Errors.ExitCode(wrapped));
        var onlyBugs = new AggregateException(new InvalidOperationException("first"), new NullReferenceException("second"));
        Assert.Equal("first", UserFacingErrors.Unwrap(onlyBugs).Message);
    }

    [Fact]
    public void The_cli_adds_its_own_usage_errors_to_the_shared_classification()
    {
        var usage = new CliException("--pred: expected a file");
        Assert.False(UserFacingErrors.IsUserFacing(usage));
        Assert.True(Errors.IsUserFacing(usage));
        Assert.Same(usage, Errors.Unwrap(new AggregateException(new InvalidOperationException("x"), usage)));
    }
}
