package main

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	now := time.Date(2026, 12, 24, 15, 30, 0, 0, ams)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"16:00", time.Date(2026, 12, 24, 16, 0, 0, 0, ams), false},
		{"09:00", time.Date(2026, 12, 25, 9, 0, 0, 0, ams), false}, // passed today: tomorrow
		{"2026-12-27 06:00", time.Date(2026, 12, 27, 6, 0, 0, 0, ams), false},
		{"2026-12-27T06:00", time.Date(2026, 12, 27, 6, 0, 0, 0, ams), false},
		{"2026-12-27T06:00:00Z", time.Date(2026, 12, 27, 6, 0, 0, 0, time.UTC), false},
		{"+2h", now.Add(2 * time.Hour), false},
		{"+1d", now.Add(24 * time.Hour), false},
		{"soon", time.Time{}, true},
		{"25:00", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseWhen(tt.in, now, ams)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestWindowFlags(t *testing.T) {
	now := time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC)
	from, to, err := window("+1h", "", "2h", now, time.UTC)
	if err != nil || !from.Equal(now.Add(time.Hour)) || !to.Equal(now.Add(3*time.Hour)) {
		t.Errorf("--start +1h --for 2h: %v %v %v; want 13:00 to 15:00", from, to, err)
	}
	if _, _, err := window("", "16:00", "2h", now, time.UTC); err == nil {
		t.Error("--until with --for accepted")
	}
	if _, _, err := window("", "", "forever", now, time.UTC); err == nil {
		t.Error("--for forever accepted")
	}
}
