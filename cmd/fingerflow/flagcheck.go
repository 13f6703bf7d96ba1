package main

// flagCheck is a range check of one flag's value: ok says whether v, the
// value as given, means something; want says what would.
type flagCheck struct {
	ok   bool
	flag string
	v    any
	want string
}

// checkFlags returns a usage error for the first check that fails, in the
// user's terms: "--max-alarms -1: want 1 or more". Commands check every
// number before any work, so that nonsense never reaches a model's
// configuration (whose errors speak of its fields) or runs for long.
func checkFlags(checks ...flagCheck) error {
	for _, c := range checks {
		if !c.ok {
			return usagef("%s %v: want %s", c.flag, c.v, c.want)
		}
	}
	return nil
}

// wantWorkers is what a --workers flag wants.
const wantWorkers = "0 (one per processor) or more"
