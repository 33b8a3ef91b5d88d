package web

import (
	"time"
	_ "time/tzdata" // Europe/Oslo also where the system has no zone files
)

// Oslo is the time zone pages show times and dates in.
var Oslo = func() *time.Location {
	l, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		panic(err) // embedded tzdata: cannot happen
	}
	return l
}()

// Date is a calendar date as pages show it (d.m.åååå, as elsewhere). A date column has
// no zone: it is shown as stored.
func Date(t time.Time) string { return t.Format("2.1.2006") }
