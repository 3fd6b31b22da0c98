namespace SamAdapt.Server.Api;

/// <summary>POST /api/open: a file or DICOM folder of the data root (relative path), optionally one series of the folder.</summary>
public sealed record OpenRequest(string? Path, string? Series);

/// <summary>POST /api/prompt: points [x, y, label] and/or a box [x0, y0, x1, y1] on slice <c>Slice</c> (x = column i, y = row j);
/// <c>BoxSlices</c> [from, to] applies the box to every slice of the range (a 3-D box).</summary>
public sealed record PromptRequest(int Slice, double[][]? Points, double[]? Box, int[]? BoxSlices);

/// <summary>POST /api/embed: compute the embedding of a slice ahead of the first click.</summary>
public sealed record EmbedRequest(int Slice);

/// <summary>POST /api/accept: write the pending mask with label <c>Label</c> (0 erases).</summary>
public sealed record AcceptRequest(int Label);

/// <summary>POST /api/auto: run the named automatic model (default: the first).</summary>
public sealed record AutoRequest(string? Model);

/// <summary>POST /api/save: write the labels into the data root at <c>Path</c> as <c>Format</c> (nifti or dicom-seg).</summary>
public sealed record SaveRequest(string? Path, string? Format);
