package catalog

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// ReadRPMPrimary reads an RPM repository's primary.xml (the createrepo
// format: <metadata> holding one <package type="rpm"> per RPM, with <name>,
// <version epoch= ver= rel=>, <size package=> and <location href=>). An
// entry's Name is the base of the location, Product the package name,
// Version "ver-rel" (prefixed by "epoch:" when the epoch is not 0), OS the
// family its release tag names (rhel, fedora, sles; else "rpm"), Released
// its build time,
// and URL the location (joined to its xml:base when there is one). The
// document is read token by token; only the fields above are kept. name is
// the file name used in errors, which give the package's record index
// (0-based) and line.
func ReadRPMPrimary(ctx context.Context, r io.Reader, name string) (*Catalog, error) {
	d := xml.NewDecoder(datasets.LimitText(r, datasets.MaxLine, datasets.XMLTokens))
	b := newBuilder(name)

	var (
		depth     int // element depth; <metadata> is 1, <package> 2
		inPkg     bool
		rec       int // record index of the current package
		recLine   int
		e         Entry
		size      string
		hasSize   bool
		inName    bool
		nameText  strings.Builder
		sawMeta   bool
		nPackages int
	)
	for n := 0; ; n++ {
		if err := checkCtx(ctx, n); err != nil {
			return nil, err
		}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if errors.Is(err, datasets.ErrLineTooLong) {
			return nil, fmt.Errorf("%s: %w: %w", name, err, ErrFormat)
		}
		if err != nil {
			line, _ := d.InputPos()
			var se *xml.SyntaxError
			if errors.As(err, &se) && se.Msg == "unexpected EOF" {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%s: record %d: line %d: %w", name, nPackages, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if t.Name.Local != "metadata" {
					return nil, fmt.Errorf("%s: root element <%s>, want <metadata>: %w", name, t.Name.Local, ErrFormat)
				}
				sawMeta = true
			case depth == 2 && t.Name.Local == "package":
				inPkg = true
				rec = nPackages
				recLine, _ = d.InputPos()
				e, size, hasSize = Entry{OS: "rpm"}, "", false
				nameText.Reset()
			case inPkg && depth == 3:
				switch t.Name.Local {
				case "name":
					inName = true
				case "version":
					ver, rel, epoch := attr(t, "ver"), attr(t, "rel"), attr(t, "epoch")
					e.Version = ver
					if rel != "" {
						e.Version += "-" + rel
					}
					if epoch != "" && epoch != "0" {
						e.Version = epoch + ":" + e.Version
					}
				case "size":
					size = attr(t, "package")
					hasSize = true
				case "time":
					if b, err := strconv.ParseInt(attr(t, "build"), 10, 64); err == nil && b > 0 {
						e.Released = time.Unix(b, 0).UTC()
					}
				case "location":
					href := attr(t, "href")
					e.Name = path.Base(href)
					if href == "" || strings.HasSuffix(href, "/") {
						e.Name = ""
					}
					e.URL = href
					if base := attrNS(t, "base"); base != "" {
						e.URL = strings.TrimSuffix(base, "/") + "/" + href
					}
				}
			}
		case xml.CharData:
			if inName && nameText.Len() < 4096 {
				nameText.Write(t)
			}
		case xml.EndElement:
			if inPkg && depth == 3 && t.Name.Local == "name" {
				inName = false
			}
			if inPkg && depth == 2 {
				inPkg = false
				nPackages++
				where := fmt.Sprintf("record %d (line %d)", rec, recLine)
				e.Product = strings.TrimSpace(nameText.String())
				e.OS = rpmFamily(e.Version)
				e.OSVersion = OSVersionOf(e.OS, e.Version)
				if e.Name == "" {
					return nil, fmt.Errorf("%s: %s: package %q has no <location href>: %w", name, where, e.Product, ErrFormat)
				}
				if !hasSize || size == "" {
					return nil, fmt.Errorf("%s: %s: %s: missing <size package>: %w", name, where, e.Name, ErrSize)
				}
				n, err := strconv.ParseUint(strings.TrimSpace(size), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %s: size %q: %w", name, where, e.Name, size, ErrSize)
				}
				e.Size = n
				if err := b.add(e, where); err != nil {
					return nil, err
				}
			}
			depth--
		}
	}
	if !sawMeta {
		return nil, fmt.Errorf("%s: no <metadata> element: %w", name, ErrFormat)
	}
	return b.done()
}

// attr returns the value of the attribute called local in any namespace.
func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// attrNS returns the value of a namespaced attribute such as xml:base.
func attrNS(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space != "" {
			return a.Value
		}
	}
	return ""
}
