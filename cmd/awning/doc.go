// Command awning is the one Awning binary.
//
//	awning serve --config awning.yaml      run a node; SIGHUP reloads, SIGTERM drains
//	awning check-config awning.yaml        report every problem in a config file
//	awning demo                            a sample shop behind Awning, to break on purpose
//	awning maintenance|update|fallback     ops over the admin API ($AWNING_ADMIN, $AWNING_TOKEN)
//	awning page set|logo|preview           merchant branding
//	awning token new                       make an admin token and its config line
//	awning version
//
// main is thin: it sets up signals and calls run, which tests call too.
// Every command's work lives in the packages it calls (node, admin,
// pages); the files here parse flags and print.
package main
