/* dot.c - Graphviz export of a graph. */
#include "op.h"

tg_status tg_graph_to_dot(const tg_graph *g, FILE *out)
{
    if (!g || !out) return TG_ERR_ARG;
    char s[64];
    fprintf(out, "digraph tapegrad {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (int i = 0; i < g->count; i++) {
        const tg_nrec *r = &g->n[i];
        tg_shape_str(r, s, sizeof s);
        if (r->op->leaf == TG_LEAF_PARAM)
            fprintf(out, "  n%d [shape=ellipse, style=filled, fillcolor=\"#dde8ff\", label=\"%s/%s\\n%s\"];\n",
                    i, tg_param_group(r->param), tg_param_name(r->param), s);
        else if (r->op->leaf == TG_LEAF_INPUT)
            fprintf(out, "  n%d [shape=ellipse, label=\"input %s\\n%s%s\"];\n", i, r->name, s,
                    r->dtype == TG_DT_I32 ? " int32" : "");
        else {
            char attr[48] = "";
            if (r->op->describe) r->op->describe(r, attr, sizeof attr);
            fprintf(out, "  n%d [shape=box%s, label=\"%s%s\\n%s\"];\n", i,
                    r->flags & TG_NF_KEPT ? ", style=bold" : "", r->op->name, attr, s);
        }
        for (int k = 0; k < r->nin; k++) fprintf(out, "  n%d -> n%d;\n", r->in[k], i);
    }
    fprintf(out, "}\n");
    return ferror(out) ? TG_ERR_IO : TG_OK;
}
