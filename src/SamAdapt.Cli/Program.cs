// `samadapt`: see CliApp for the command line and the error policy (docs/reliability.md).
return SamAdapt.Cli.CliApp.Run(args);
