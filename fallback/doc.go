// Package fallback decides what shoppers get when a shop's origin cannot
// answer: the last known good copy of the page, kept in memory and in Redis;
// what is known of each origin's health; and whether a shop is in
// maintenance. The proxy asks it before and after every origin exchange.
package fallback
