package nightdir

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
	"github.com/parquet-go/parquet-go"
)

// WriteFrameParquet writes a gota DataFrame as a zstd-compressed Parquet
// file with the frame's columns in order: strings as STRING, ints as
// INT64, floats as DOUBLE (NaN as null), bools as BOOLEAN. gota has no
// Parquet writer; the schema is built from the frame's column types.
func WriteFrameParquet(w io.Writer, df dataframe.DataFrame) error {
	if df.Err != nil {
		return df.Err
	}
	names := df.Names()
	types := df.Types()
	fields := make([]reflect.StructField, len(names))
	for i, n := range names {
		var t reflect.Type
		switch types[i] {
		case series.String:
			t = reflect.TypeFor[string]()
		case series.Int:
			t = reflect.TypeFor[int64]()
		case series.Float:
			t = reflect.TypeFor[*float64]() // optional: NaN is null
		case series.Bool:
			t = reflect.TypeFor[bool]()
		default:
			return fmt.Errorf("column %s: type %s has no Parquet form", n, types[i])
		}
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i), Type: t,
			Tag: reflect.StructTag(fmt.Sprintf(`parquet:"%s"`, parquetName(n))),
		}
		if types[i] == series.Float {
			fields[i].Tag = reflect.StructTag(fmt.Sprintf(`parquet:"%s,optional"`, parquetName(n)))
		}
	}
	rowType := reflect.StructOf(fields)
	pw := parquet.NewWriter(w, parquet.SchemaOf(reflect.New(rowType).Interface()), parquet.Compression(&parquet.Zstd))
	cols := make([]series.Series, len(names))
	for i, n := range names {
		cols[i] = df.Col(n)
	}
	row := reflect.New(rowType)
	for r := range df.Nrow() {
		v := row.Elem()
		for i, c := range cols {
			e := c.Elem(r)
			f := v.Field(i)
			switch types[i] {
			case series.String:
				f.SetString(e.String())
			case series.Int:
				n, err := e.Int()
				if err != nil {
					return fmt.Errorf("column %s row %d: %w", names[i], r, err)
				}
				f.SetInt(int64(n))
			case series.Float:
				x := e.Float()
				if math.IsNaN(x) {
					f.SetZero()
				} else {
					f.Set(reflect.ValueOf(&x))
				}
			case series.Bool:
				b, err := e.Bool()
				if err != nil {
					return fmt.Errorf("column %s row %d: %w", names[i], r, err)
				}
				f.SetBool(b)
			}
		}
		if err := pw.Write(row.Interface()); err != nil {
			return err
		}
	}
	return pw.Close()
}

// parquetName keeps a column name usable in a struct tag.
func parquetName(n string) string {
	return strings.Map(func(r rune) rune {
		if r == ',' || r == '"' || r == '`' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, n)
}

// HostTable is the host feature table (hosts.parquet or hosts.csv) as
// read back: the address column and numeric columns by name, NaN where a
// value is missing.
type HostTable struct {
	Addr []string
	Num  map[string][]float64
}

// ReadHostTable reads the columns cols (and the address) of a host table
// written by WriteFrameParquet or as CSV (by the file's name).
func ReadHostTable(path string, cols []string) (*HostTable, error) {
	if strings.HasSuffix(path, ".csv") {
		return readHostTableCSV(path, cols)
	}
	return readHostTableParquet(path, cols)
}

func readHostTableCSV(path string, cols []string) (*HostTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[h] = i
	}
	ai, ok := idx["address"]
	if !ok {
		return nil, fmt.Errorf("no address column")
	}
	t := &HostTable{Num: map[string][]float64{}}
	for _, c := range cols {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("no %s column", c)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		t.Addr = append(t.Addr, rec[ai])
		for _, c := range cols {
			v := math.NaN()
			if s := rec[idx[c]]; s != "" && s != "NaN" && s != "NA" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return nil, fmt.Errorf("line %d: %s: %w", line, c, err)
				}
			}
			t.Num[c] = append(t.Num[c], v)
		}
	}
	return t, nil
}

func readHostTableParquet(path string, cols []string) (*HostTable, error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	leaf := map[string]int{}
	for i, p := range pf.Schema().Columns() {
		leaf[strings.Join(p, ".")] = i
	}
	ai, ok := leaf["address"]
	if !ok {
		return nil, fmt.Errorf("no address column")
	}
	want := make([]int, len(cols))
	for j, c := range cols {
		i, ok := leaf[c]
		if !ok {
			return nil, fmt.Errorf("no %s column", c)
		}
		want[j] = i
	}
	t := &HostTable{Num: map[string][]float64{}}
	buf := make([]parquet.Row, 256)
	err = safely(func() error {
		for _, rg := range pf.RowGroups() {
			rows := rg.Rows()
			for {
				k, err := rows.ReadRows(buf)
				for _, row := range buf[:k] {
					byCol := make(map[int]parquet.Value, len(row))
					for _, v := range row {
						byCol[v.Column()] = v
					}
					t.Addr = append(t.Addr, string(byCol[ai].ByteArray()))
					for j, c := range cols {
						t.Num[c] = append(t.Num[c], valueFloat(byCol[want[j]]))
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					rows.Close()
					return fmt.Errorf("%w: %w", ErrDamaged, err)
				}
			}
			rows.Close()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// valueFloat is a numeric Parquet value as float64, NaN when null.
func valueFloat(v parquet.Value) float64 {
	if v.IsNull() {
		return math.NaN()
	}
	switch v.Kind() {
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	}
	return math.NaN()
}
