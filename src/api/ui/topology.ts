// The web UI's Topology panel (/ui/topology.js, imported by app.ts): the locality zones of
// /v1/topology with their client networks; add, edit (PUT) and delete, each after the page's
// confirmation step. The helpers it needs come from app.ts, which owns the page.

export interface TopologyZone {
  zone: string;
  cidrs?: string[];
  error?: string;
  modRevision: number;
}

export interface TopologyDeps {
  api<T>(method: string, path: string, body?: object): Promise<T>;
  confirmStep(text: string): Promise<boolean>;
  /** `message (field: cidrs[1])` of a failed call. */
  describe(e: unknown): string;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);

function td(text: string, className = ''): HTMLTableCellElement {
  const c = document.createElement('td');
  c.textContent = text;
  c.className = className;
  return c;
}

function button(text: string, className: string, onclick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  b.onclick = onclick;
  return b;
}

/** The CIDRs a person typed: separated by spaces, commas, semicolons or new lines. */
const splitCidrs = (text: string): string[] => text.split(/[\s,;]+/).filter((s) => s !== '');

export class TopologyPanel {
  /** The zones as last loaded, sorted (the record form offers them). */
  zones: TopologyZone[] = [];

  constructor(private readonly d: TopologyDeps) {
    $('topology-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.save();
    });
    $('t-cancel').addEventListener('click', () => this.resetForm());
  }

  async refresh(): Promise<void> {
    try {
      this.zones = (await this.d.api<{ topology: TopologyZone[] }>('GET', '/v1/topology')).topology;
      this.render();
      $('topology-error').textContent = '';
    } catch (e) {
      $('topology-error').textContent = `Could not load the topology: ${this.d.describe(e)}`;
    }
  }

  private render(): void {
    const tbody = $<HTMLTableElement>('topology').tBodies[0];
    tbody.replaceChildren();
    if (this.zones.length === 0) {
      const c = td('No zones: every client and address is in no zone (locality does nothing).');
      c.colSpan = 3;
      const tr = document.createElement('tr');
      tr.append(c);
      tbody.append(tr);
    }
    for (const z of this.zones) {
      const tr = document.createElement('tr');
      tr.dataset.zone = z.zone;
      const nets = z.cidrs
        ? td(z.cidrs.join(' ') || '(none)', 'cidrs')
        : td(`unreadable: ${z.error}`, 'error');
      const actions = document.createElement('td');
      actions.append(
        button('Edit', 'edit', () => this.edit(z)),
        ' ',
        button('Delete', 'delete', () => this.remove(z)),
      );
      tr.append(td(z.zone), nets, actions);
      tbody.append(tr);
    }
    // the record form's zone field suggests these
    const list = $('zone-list');
    list.replaceChildren(
      ...this.zones.map((z) => {
        const o = document.createElement('option');
        o.value = z.zone;
        return o;
      }),
    );
  }

  private resetForm(): void {
    $<HTMLFormElement>('topology-form').reset();
    input('t-zone').disabled = false;
    $('t-submit').textContent = 'Add zone';
    $('t-cancel').hidden = true;
    $('topology-form-error').textContent = '';
  }

  private edit(z: TopologyZone): void {
    this.resetForm();
    input('t-zone').value = z.zone;
    input('t-zone').disabled = true;
    input('t-cidrs').value = (z.cidrs ?? []).join(' ');
    $('t-submit').textContent = 'Save zone';
    $('t-cancel').hidden = false;
    input('t-cidrs').focus();
  }

  private async save(): Promise<void> {
    const zone = input('t-zone').value.trim();
    const cidrs = splitCidrs(input('t-cidrs').value);
    const editing = input('t-zone').disabled;
    const question = `${editing ? 'Set' : 'Add'} zone ${zone} with ${cidrs.length ? cidrs.join(', ') : 'no networks'}?`;
    if (!(await this.d.confirmStep(question))) return;
    $('topology-form-error').textContent = '';
    try {
      await this.d.api('PUT', `/v1/topology/${encodeURIComponent(zone)}`, { cidrs });
      this.resetForm();
      await this.refresh();
    } catch (e) {
      $('topology-form-error').textContent = this.d.describe(e);
    }
  }

  private async remove(z: TopologyZone): Promise<void> {
    const question = `Delete zone ${z.zone}? Its addresses stay; clients in its networks get no zone (locality stops for them).`;
    if (!(await this.d.confirmStep(question))) return;
    try {
      await this.d.api('DELETE', `/v1/topology/${encodeURIComponent(z.zone)}`);
      await this.refresh();
    } catch (e) {
      $('topology-error').textContent = `Delete failed: ${this.d.describe(e)}`;
    }
  }
}
