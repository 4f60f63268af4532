// Package prefetch asks the processor to start fetching a line of memory
// that will be read soon, without waiting for it.
//
// On a node with thousands of shops nearly every request is for another
// shop, so the first read of each piece of that shop's memory is a trip
// to main memory (about 100 ns), and the request path's reads of a shop
// follow one another: the host's slot names the site's state, the state
// names its counters. Reading a field stalls until its line arrives; a
// prefetch of every line whose address is already known lets those trips
// overlap, so a request waits for one of them instead of each in turn.
//
// Line is a hint: it never faults (any address may be given, nil too),
// changes nothing the program can observe, and is a no-op where the
// architecture has no instruction for it here.
package prefetch
