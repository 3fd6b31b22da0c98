// Stack buffers for operator arguments are always written before they are read: skip zero-initialisation.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
