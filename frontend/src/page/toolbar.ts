/**
 * The toolbar's controls that are more than a button: the resolution switcher (each
 * button shows the spelling the URL and the API use, `60`, with its name as a tooltip)
 * and the indicator menu. The menu keeps the toolbar one row high however many
 * functions the server registers: a button saying how many lines are on, opening a
 * panel with one row per function and the signal-marks switch.
 */
import { lineLabel, type MovingAverageLine } from '../model/indicators';
import { resolutionName, SUPPORTED_RESOLUTIONS } from '../model/resolution';

export function renderResolutionButtons(container: HTMLElement, onPick: (resolution: string) => void): void {
  for (const resolution of SUPPORTED_RESOLUTIONS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = resolution;
    button.title = resolutionName(resolution);
    button.setAttribute('aria-label', `${resolutionName(resolution)} (${resolution})`);
    button.dataset.resolution = resolution;
    button.dataset.testid = `resolution-${resolution}`;
    button.addEventListener('click', () => {
      onPick(resolution);
    });
    container.append(button);
  }
}

export function markResolution(container: HTMLElement, resolution: string): void {
  for (const button of container.querySelectorAll<HTMLButtonElement>('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.resolution === resolution));
  }
}

/** What the menu reads and changes. */
export interface IndicatorControls {
  lines(): readonly MovingAverageLine[];
  lineVisible(id: string): boolean;
  setLineVisible(id: string, visible: boolean): void;
  marksVisible(): boolean;
  setMarksVisible(visible: boolean): void;
}

function toggleText(line: MovingAverageLine): string {
  if (!line.group) return String(line.period);
  return line.output ?? (Object.values(line.params ?? {}).join(',') || line.kind);
}

/** The toolbar's indicator menu: `button` opens `panel`, which holds every toggle. */
export class IndicatorMenu {
  constructor(
    private readonly button: HTMLButtonElement,
    private readonly panel: HTMLElement,
    private readonly controls: IndicatorControls,
  ) {
    button.addEventListener('click', () => {
      this.setOpen(panel.hidden);
    });
    document.addEventListener('click', (event) => {
      const target = event.target;
      if (!panel.hidden && target instanceof Node && !panel.contains(target) && !button.contains(target)) {
        this.setOpen(false);
      }
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !panel.hidden) {
        this.setOpen(false);
        button.focus();
      }
    });
  }

  /** (Re)builds the panel: one row per function name, a toggle per line, then the marks switch. */
  render(): void {
    const lines = this.controls.lines();
    const rows: HTMLElement[] = [];
    for (const kind of new Set(lines.map((line) => line.kind))) {
      const row = this.row(kind.toUpperCase());
      for (const line of lines.filter((candidate) => candidate.kind === kind)) {
        const toggle = this.toggle(toggleText(line), lineLabel(line), `indicator-${line.id}`, () => {
          this.controls.setLineVisible(line.id, !this.controls.lineVisible(line.id));
        });
        toggle.dataset.indicator = line.id;
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = line.color;
        toggle.prepend(swatch);
        row.append(toggle);
      }
      rows.push(row);
    }
    const marks = this.row('MARKS');
    marks.append(
      this.toggle('signals', 'Crossover and signal marks on the candles', 'marks-toggle', () => {
        this.controls.setMarksVisible(!this.controls.marksVisible());
      }),
    );
    rows.push(marks);
    this.panel.replaceChildren(...rows);
    this.refresh();
  }

  /** Pressed states and the button's count follow the chart. */
  refresh(): void {
    for (const toggle of this.panel.querySelectorAll<HTMLButtonElement>('button[data-indicator]')) {
      toggle.setAttribute('aria-pressed', String(this.controls.lineVisible(toggle.dataset.indicator ?? '')));
    }
    const marks = this.panel.querySelector<HTMLButtonElement>('[data-testid="marks-toggle"]');
    marks?.setAttribute('aria-pressed', String(this.controls.marksVisible()));
    const shown = this.controls.lines().filter((line) => this.controls.lineVisible(line.id)).length;
    const count = this.button.querySelector('.count');
    if (count) count.textContent = String(shown);
    this.button.title = `${String(shown)} indicator lines shown${this.controls.marksVisible() ? '' : ', marks hidden'}`;
  }

  setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
  }

  private row(label: string): HTMLElement {
    const row = document.createElement('div');
    row.className = 'group';
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', label);
    const name = document.createElement('span');
    name.className = 'group-label';
    name.textContent = label;
    row.append(name);
    return row;
  }

  private toggle(text: string, title: string, testid: string, onClick: () => void): HTMLButtonElement {
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.append(text);
    toggle.title = title;
    toggle.dataset.testid = testid;
    toggle.addEventListener('click', () => {
      onClick();
      this.refresh();
    });
    return toggle;
  }
}
