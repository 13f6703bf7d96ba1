// Command mkng converts a pcap file to pcapng with gopacket's pcapgo, for the
// test fixtures: the tcpdump that made the captures writes only pcap.
//
// Usage: go run ./mkng in.pcap out.pcapng
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkng:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: mkng in.pcap out.pcapng")
	}
	in, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	out, err := os.Create(args[1])
	if err != nil {
		return err
	}
	w, err := pcapgo.NewNgWriter(out, r.LinkType())
	if err != nil {
		return err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if err := w.WritePacket(ci, data); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Close()
}
