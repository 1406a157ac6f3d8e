//! The charts' drawing backend.

use plotters::prelude::DrawingBackend;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;

/// plotters' canvas backend, drawing on a canvas outside the page that `present` copies onto the page's. A
/// canvas in the page makes the browser bring the page's style and layout up to date whenever its font is set
/// (every label), and plotters measures text by putting it in a span in the page and reading its size: either
/// laid out the whole page, heatmaps and all, inside a chart's task (tens of milliseconds on the page's thread).
/// Outside the page neither needs the page's layout, and text is measured by the canvas (`measureText`).
pub(super) struct Canvas {
    inner: CanvasBackend,
    /// The scratch canvas's context (drawing and measuring).
    context: web_sys::CanvasRenderingContext2d,
    scratch: web_sys::HtmlCanvasElement,
    /// The page's canvas's context.
    shown: web_sys::CanvasRenderingContext2d,
}

fn context(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// A chart's width where the screen has room (web/index.html's canvases).
const CHART_WIDTH: u32 = 520;

impl Canvas {
    pub(super) fn new(id: &str) -> Option<Canvas> {
        let document = web_sys::window()?.document()?;
        let page: web_sys::HtmlCanvasElement = document.get_element_by_id(id)?.dyn_into().ok()?;
        // As wide as a phone's screen allows (less the page's margins), so that its text is drawn at its size,
        // not shrunk with the canvas; the window's width needs no layout, the canvas's box would.
        let room = web_sys::window()?.inner_width().ok()?.as_f64().unwrap_or(0.0) - 40.0;
        page.set_width(room.clamp(240.0, CHART_WIDTH as f64) as u32);
        let scratch: web_sys::HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
        scratch.set_width(page.width());
        scratch.set_height(page.height());
        Some(Canvas {
            context: context(&scratch)?,
            shown: context(&page)?,
            inner: CanvasBackend::with_canvas_object(scratch.clone())?,
            scratch,
        })
    }
}

type Error<B> = DrawingErrorKind<<B as DrawingBackend>::ErrorType>;

impl DrawingBackend for Canvas {
    type ErrorType = <CanvasBackend as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Error<Self>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Error<Self>> {
        self.inner.present()?;
        let (w, h) = (self.scratch.width() as f64, self.scratch.height() as f64);
        self.shown.clear_rect(0.0, 0.0, w, h);
        self.shown.draw_image_with_html_canvas_element(&self.scratch, 0.0, 0.0).map_err(|e| {
            DrawingErrorKind::FontError(format!("the chart could not be shown: {}", super::dom::js_err(e)).into())
        })
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Error<Self>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, s: &S) -> Result<(), Error<Self>> {
        self.inner.draw_line(from, to, s)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<Self>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Error<Self>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<Self>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Error<Self>> {
        self.inner.fill_polygon(vert, style)
    }
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Result<(), Error<Self>> {
        self.inner.draw_text(text, style, pos)
    }
    fn estimate_text_size<S: BackendTextStyle>(&self, text: &str, style: &S) -> Result<(u32, u32), Error<Self>> {
        // The font as the backend's draw_text sets it; the height of a line of it, as a span's would be.
        self.context.set_font(&format!("{} {}px {}", style.style().as_str(), style.size(), style.family().as_str()));
        let m = self.context.measure_text(text).map_err(|e| {
            DrawingErrorKind::FontError(format!("measureText failed: {}", super::dom::js_err(e)).into())
        })?;
        let height = m.font_bounding_box_ascent() + m.font_bounding_box_descent();
        Ok((m.width().ceil() as u32, height.ceil() as u32))
    }
}
