/* placeholder until the layer lands */
typedef int dv_topology_placeholder;
