package nightdir

import (
	"encoding/json"
	"time"
)

// RunSummary is run.json: what a nightly run read, skipped and found, and
// how fast.
type RunSummary struct {
	Night string    `json:"night"`
	First time.Time `json:"first_flow"`
	Last  time.Time `json:"last_flow"`
	// Source names where the flows were kept when not in files (a
	// ClickHouse table); Files then counts the loaded files it read.
	Source       string        `json:"source,omitempty"`
	Files        int           `json:"files"`
	FilesSkipped int           `json:"files_skipped"`
	Skipped      []SkippedFile `json:"skipped"`
	Flows        uint64        `json:"flows"`
	Duplicates   uint64        `json:"duplicate_records_dropped"`
	Hosts        int           `json:"hosts"`
	HostsWithOS  int           `json:"hosts_with_os"`
	Downloads    int           `json:"downloads"`
	Named        int           `json:"downloads_named"`
	ChanceLevel  int           `json:"downloads_chance_level"` // named at a chance not negligible
	Unknown      int           `json:"downloads_unknown"`
	// Sampled counts the downloads of packet-sampling exporters, whose
	// byte counts are estimates: they are left unknown.
	Sampled     int             `json:"downloads_sampled,omitempty"`
	Updates     int             `json:"updates"`
	Clusters    int             `json:"clusters"`
	Seconds     float64         `json:"seconds"`
	FlowsPerSec float64         `json:"flows_per_second"`
	Context     json.RawMessage `json:"context"` // what host and site context added
	// Analytics says why stats.json and alarms.json are missing, when
	// they are ("": written).
	Analytics string `json:"analytics,omitempty"`
	History   string `json:"history,omitempty"`
	// Previous is the history's night before this one ("" when this is
	// the first); Vanished are the hosts it saw and this night did not.
	Previous string         `json:"previous_night,omitempty"`
	Vanished []VanishedHost `json:"vanished,omitempty"`
	// Replaced is the earlier run of this night that this run replaced in
	// the history, nil when there was none.
	Replaced *ReplacedRun `json:"replaced,omitempty"`
	// MissingFromHistory says the run filled each host's missing updates
	// (Host.Missing) from the history database.
	MissingFromHistory bool   `json:"missing_from_history,omitempty"`
	Model              string `json:"model"`
	Catalog            string `json:"catalog"`
	Version            string `json:"fingerflow_version"`
}

// VanishedHost is a host the previous night saw and this night did not.
type VanishedHost struct {
	Addr string `json:"host"`
	OS   string `json:"os"` // its verdict that night ("" unknown)
}

// ReplacedRun is an earlier run of a night, as the history kept it.
type ReplacedRun struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Flows    uint64    `json:"flows"`
	Hosts    int       `json:"hosts"`
}

// SkippedFile is an input a run skipped and why ("" Path: arguments that
// named nothing).
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}
