package datasets

import "testing"

func TestProtoNames(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint8
		ok   bool
	}{
		{"TCP", 6, true}, {"tcp", 6, true}, {"Tcp", 6, true},
		{"ICMP6", 58, true}, {"icmp6", 58, true}, {"ipv6-icmp", 58, true}, {"icmpv6", 58, true},
		{"ah", 51, true}, {"esp", 50, true}, {"gre", 47, true}, {"sctp", 132, true},
		{"udplite", 136, true}, {"UDP-L", 136, true}, {"ipnip", 4, true},
		{"IDPR", 35, true}, // nfdump names 35 and 38 alike; the first wins
		{"17", 17, true}, {"255", 255, true}, {"0", 0, true},
		{"256", 0, false}, {"tcpx", 0, false}, {"", 0, false}, {"-1", 0, false},
	} {
		got, ok := ParseProto(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseProto(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for p := range 256 {
		name := ProtoName(uint8(p))
		if got, ok := ParseProto(name); !ok || (got != uint8(p) && name != "IDPR") {
			t.Errorf("ProtoName(%d) = %q reads back as %d, %v", p, name, got, ok)
		}
	}
	for p, want := range map[uint8]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMP6", 47: "GRE", 50: "ESP", 132: "SCTP", 200: "200"} {
		if got := ProtoName(p); got != want {
			t.Errorf("ProtoName(%d) = %q, want %q", p, got, want)
		}
	}
}
