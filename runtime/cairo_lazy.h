/*
** cairo_lazy.h — cairo, loaded on first use.
**
** Linking cairo pulls in about twenty libraries (X11, xcb, fontconfig,
** freetype, png, ...), which cost every hnn start about 1 ms although
** most runs never plot.  The drawing files include this header instead of
** cairo's: every cairo function they call goes through a table that
** cairo_lazy_load fills from libcairo.so.2 (dlopen) the first time a plot is
** saved.  A function missing from the table is a compile error here, not a
** crash later.
*/
#ifndef HNN_CAIRO_LAZY_H
#define HNN_CAIRO_LAZY_H

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <stddef.h>

#include "dltable.h"

#define HNN_CAIRO_FUNCS(X) \
  X(cairo_arc) \
  X(cairo_clip) \
  X(cairo_create) \
  X(cairo_destroy) \
  X(cairo_fill) \
  X(cairo_fill_preserve) \
  X(cairo_font_extents) \
  X(cairo_get_source) \
  X(cairo_image_surface_create) \
  X(cairo_image_surface_get_data) \
  X(cairo_image_surface_get_stride) \
  X(cairo_line_to) \
  X(cairo_move_to) \
  X(cairo_new_sub_path) \
  X(cairo_paint) \
  X(cairo_pattern_set_extend) \
  X(cairo_pattern_set_filter) \
  X(cairo_pdf_surface_create_for_stream) \
  X(cairo_rectangle) \
  X(cairo_restore) \
  X(cairo_rotate) \
  X(cairo_save) \
  X(cairo_scale) \
  X(cairo_select_font_face) \
  X(cairo_set_font_size) \
  X(cairo_set_line_cap) \
  X(cairo_set_line_join) \
  X(cairo_set_line_width) \
  X(cairo_set_source_rgb) \
  X(cairo_set_source_rgba) \
  X(cairo_set_source_surface) \
  X(cairo_show_text) \
  X(cairo_status) \
  X(cairo_status_to_string) \
  X(cairo_stroke) \
  X(cairo_surface_destroy) \
  X(cairo_surface_finish) \
  X(cairo_surface_flush) \
  X(cairo_surface_mark_dirty) \
  X(cairo_surface_status) \
  X(cairo_surface_write_to_png_stream) \
  X(cairo_svg_surface_create_for_stream) \
  X(cairo_text_extents) \
  X(cairo_translate)

typedef struct hnn_cairo_api {
  HNN_CAIRO_FUNCS(DLTABLE_SLOT)
} hnn_cairo_api;

extern hnn_cairo_api hnn_cairo;

/* Load cairo (once per process; thread-safe).  0, or -1 with a message. */
int cairo_lazy_load(char *err, size_t errlen);

#ifndef HNN_CAIRO_LAZY_IMPL
#define cairo_arc (hnn_cairo.cairo_arc)
#define cairo_clip (hnn_cairo.cairo_clip)
#define cairo_create (hnn_cairo.cairo_create)
#define cairo_destroy (hnn_cairo.cairo_destroy)
#define cairo_fill (hnn_cairo.cairo_fill)
#define cairo_fill_preserve (hnn_cairo.cairo_fill_preserve)
#define cairo_font_extents (hnn_cairo.cairo_font_extents)
#define cairo_get_source (hnn_cairo.cairo_get_source)
#define cairo_image_surface_create (hnn_cairo.cairo_image_surface_create)
#define cairo_image_surface_get_data (hnn_cairo.cairo_image_surface_get_data)
#define cairo_image_surface_get_stride (hnn_cairo.cairo_image_surface_get_stride)
#define cairo_line_to (hnn_cairo.cairo_line_to)
#define cairo_move_to (hnn_cairo.cairo_move_to)
#define cairo_new_sub_path (hnn_cairo.cairo_new_sub_path)
#define cairo_paint (hnn_cairo.cairo_paint)
#define cairo_pattern_set_extend (hnn_cairo.cairo_pattern_set_extend)
#define cairo_pattern_set_filter (hnn_cairo.cairo_pattern_set_filter)
#define cairo_pdf_surface_create_for_stream (hnn_cairo.cairo_pdf_surface_create_for_stream)
#define cairo_rectangle (hnn_cairo.cairo_rectangle)
#define cairo_restore (hnn_cairo.cairo_restore)
#define cairo_rotate (hnn_cairo.cairo_rotate)
#define cairo_save (hnn_cairo.cairo_save)
#define cairo_scale (hnn_cairo.cairo_scale)
#define cairo_select_font_face (hnn_cairo.cairo_select_font_face)
#define cairo_set_font_size (hnn_cairo.cairo_set_font_size)
#define cairo_set_line_cap (hnn_cairo.cairo_set_line_cap)
#define cairo_set_line_join (hnn_cairo.cairo_set_line_join)
#define cairo_set_line_width (hnn_cairo.cairo_set_line_width)
#define cairo_set_source_rgb (hnn_cairo.cairo_set_source_rgb)
#define cairo_set_source_rgba (hnn_cairo.cairo_set_source_rgba)
#define cairo_set_source_surface (hnn_cairo.cairo_set_source_surface)
#define cairo_show_text (hnn_cairo.cairo_show_text)
#define cairo_status (hnn_cairo.cairo_status)
#define cairo_status_to_string (hnn_cairo.cairo_status_to_string)
#define cairo_stroke (hnn_cairo.cairo_stroke)
#define cairo_surface_destroy (hnn_cairo.cairo_surface_destroy)
#define cairo_surface_finish (hnn_cairo.cairo_surface_finish)
#define cairo_surface_flush (hnn_cairo.cairo_surface_flush)
#define cairo_surface_mark_dirty (hnn_cairo.cairo_surface_mark_dirty)
#define cairo_surface_status (hnn_cairo.cairo_surface_status)
#define cairo_surface_write_to_png_stream (hnn_cairo.cairo_surface_write_to_png_stream)
#define cairo_svg_surface_create_for_stream (hnn_cairo.cairo_svg_surface_create_for_stream)
#define cairo_text_extents (hnn_cairo.cairo_text_extents)
#define cairo_translate (hnn_cairo.cairo_translate)
#endif

#endif
